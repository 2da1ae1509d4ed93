/**
 * A real HAProxy (Debian's `haproxy`, /usr/sbin/haproxy) for tests that put
 * it in front of mqttd: the test writes the config into a temp dir, HAProxy
 * runs in the foreground and is stopped by `t.after`. Outside CI a missing
 * haproxy skips; in CI (`CI=true`, where `.ci/run` installs it) it fails.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { connect } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { TestContext } from 'node:test'

/** The haproxy binary: on PATH, or Debian's /usr/sbin (not on a normal user's PATH). */
export function haproxyBinary(): string | null {
  const onPath = spawnSync('haproxy', ['-v'], { stdio: 'ignore' })
  if (onPath.error === undefined && onPath.status === 0) return 'haproxy'
  if (existsSync('/usr/sbin/haproxy')) return '/usr/sbin/haproxy'
  if (process.env.CI === 'true') throw new Error('haproxy is missing: CI must install haproxy (.ci/run)')
  return null
}

/** Validates a config with `haproxy -c`; returns the exit status and output. */
export function checkHaproxyConfig(binary: string, file: string): { status: number | null; output: string } {
  const result = spawnSync(binary, ['-c', '-f', file], { encoding: 'utf8' })
  return { status: result.status, output: `${result.stdout}${result.stderr}` }
}

/**
 * Starts HAProxy with `config` (or the config made for its temp dir, e.g.
 * with a stats socket there) and resolves once every port in `ports`
 * accepts connections on `host`.
 */
export async function startHaproxy(
  t: TestContext,
  binary: string,
  config: string | ((dir: string) => string),
  ports: Array<{ host: string; port: number }>,
  env: Record<string, string> = {},
): Promise<{ child: ChildProcess; dir: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'mqttd-haproxy-'))
  const file = join(dir, 'haproxy.cfg')
  writeFileSync(file, typeof config === 'string' ? config : config(dir))
  // -db: foreground, no daemon; -W is not needed for one process
  const child = spawn(binary, ['-db', '-f', file], {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, ...env },
  })
  let stderr = ''
  child.stderr!.on('data', (chunk: Buffer) => {
    stderr += chunk.toString()
  })
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  t.after(async () => {
    if (child.exitCode === null) {
      child.kill('SIGTERM')
      await exited
    }
    rmSync(dir, { recursive: true, force: true })
  })
  for (const { host, port } of ports)
    await waitForPort(
      host,
      port,
      () => child.exitCode !== null,
      () => stderr,
    )
  return { child, dir }
}

/** One row of `show stat` (CSV) from HAProxy's stats socket, by column name. */
export type HaproxyStat = Record<string, string>

/** `show stat` over the stats socket at `path`: one row per frontend, backend and server. */
export function haproxyStats(path: string): Promise<HaproxyStat[]> {
  return new Promise((resolve, reject) => {
    let text = ''
    const socket = connect({ path }, () => socket.end('show stat\n'))
    socket.on('data', (chunk: Buffer) => {
      text += chunk.toString()
    })
    socket.once('error', reject)
    socket.once('close', () => {
      const [head, ...rows] = text.trim().split('\n')
      const columns = (head ?? '').replace(/^# /, '').split(',')
      resolve(rows.map((row) => Object.fromEntries(row.split(',').map((v, i) => [columns[i]!, v]))))
    })
  })
}

async function waitForPort(
  host: string,
  port: number,
  dead: () => boolean,
  output: () => string,
): Promise<void> {
  const deadline = Date.now() + 10_000
  for (;;) {
    if (dead()) throw new Error(`haproxy exited: ${output()}`)
    const ok = await new Promise<boolean>((resolve) => {
      const socket = connect({ host, port }, () => {
        socket.destroy()
        resolve(true)
      })
      socket.once('error', () => resolve(false))
    })
    if (ok) return
    if (Date.now() > deadline) throw new Error(`haproxy did not listen on ${host}:${port}: ${output()}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}
