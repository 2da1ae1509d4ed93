/**
 * A real mqttd process for the durability tests: `bin/mqttd.js` with a config
 * file in a temp dir (the store goes to `data/` beside it), stopped by SIGTERM
 * or killed with SIGKILL, restarted on the same directory.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import type { TestContext } from 'node:test'

const root = new URL('../../../', import.meta.url).pathname
const node = join(root, 'node_modules/.bin/node')
const bin = join(root, 'bin/mqttd.js')

export interface DurableServer {
  child: ChildProcess
  url: string
  /** Base URL of the admin API. */
  admin: string
  exited: Promise<number | null>
  stderr: () => string
  /** Log lines at warn level and above. */
  warnings: () => string[]
}

/** A temp directory with the config file `mqttd.yaml`; `yaml` is appended to the base config. */
export function durableDir(yaml = ''): string {
  const dir = mkdtempSync(join(tmpdir(), 'mqttd-durable-'))
  writeFileSync(
    join(dir, 'mqttd.yaml'),
    'listeners: [{ name: mqtt, type: tcp, host: 127.0.0.1, port: 0 }]\n' +
      'admin: { host: 127.0.0.1, port: 0 }\nlog: { level: warn }\n' +
      yaml,
  )
  return dir
}

/** Runs the CLI on `dir`'s config; resolves once it listens, rejects with stderr if it exits first. */
export async function startDurable(t: TestContext, dir: string): Promise<DurableServer> {
  const child = spawn(node, [bin, '--config', join(dir, 'mqttd.yaml')], {
    cwd: dir,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, MQTTD_LOG_LEVEL: 'info' },
  })
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)))
  t.after(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
  })
  let stderr = ''
  const logged: string[] = []
  child.stderr!.on('data', (b) => (stderr += b))
  const started = await new Promise<{ port: number; admin: string }>((resolve, reject) => {
    const rl = createInterface({ input: child.stdout! })
    rl.on('line', (line) => {
      try {
        const entry = JSON.parse(line) as Record<string, unknown>
        if (Number(entry.level) >= 40) logged.push(line)
        if (String(entry.msg).startsWith('mqttd listening')) {
          const listeners = entry.listeners as Array<{ port: number }>
          const admin = entry.admin as { host: string; port: number } | null
          resolve({ port: listeners[0]!.port, admin: admin === null ? '' : `http://127.0.0.1:${admin.port}` })
        }
      } catch {}
    })
    child.once('exit', (code) => reject(new Error(`mqttd exited with ${code} before listening: ${stderr}`)))
  })
  return {
    child,
    url: `mqtt://127.0.0.1:${started.port}`,
    admin: started.admin,
    exited,
    stderr: () => stderr,
    warnings: () => logged,
  }
}

/** SIGKILL: no drain, no shutdown hook, the store as the last commit left it. */
export async function kill9(server: DurableServer): Promise<void> {
  server.child.kill('SIGKILL')
  await server.exited
}

/** SIGTERM: the server drains and exits 0. */
export async function stop(server: DurableServer): Promise<number | null> {
  server.child.kill('SIGTERM')
  return server.exited
}

/** The worker thread id serving `clientId` (admin API). */
export async function workerOf(server: DurableServer, clientId: string): Promise<number | undefined> {
  const res = await fetch(`${server.admin}/connections?clientId=${encodeURIComponent(clientId)}`)
  const page = (await res.json()) as { items: Array<{ workerId: number }> }
  return page.items[0]?.workerId
}

/** One sample of a metric from the admin API's exposition (the first line matching). */
export async function metricValue(server: DurableServer, pattern: RegExp): Promise<number | undefined> {
  const text = await (await fetch(`${server.admin}/metrics`)).text()
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue
    if (pattern.test(line)) return Number(line.slice(line.lastIndexOf(' ') + 1))
  }
  return undefined
}
