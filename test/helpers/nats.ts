/**
 * A real nats-server (Debian's package) for the cluster tests, with JetStream
 * in a temporary directory, on a free port; and mqttd nodes as separate
 * processes (the CLI) joined to it. Outside CI a missing nats-server skips the
 * tests; in CI (`CI=true`, where `.ci/run` installs it) it fails them.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { stringify } from 'yaml'
import { freePort } from '../../load-tests/free-ports.ts'

const root = fileURLToPath(new URL('../..', import.meta.url))
const node = join(root, 'node_modules/.bin/node')

// Debian installs it in /usr/sbin, which a non-root PATH may lack
const natsBin =
  spawnSync('nats-server', ['--version']).error === undefined ? 'nats-server' : '/usr/sbin/nats-server'

/** Whether nats-server is installed; throws in CI when it is not. */
export function hasNatsServer(): boolean {
  const found = spawnSync(natsBin, ['--version']).error === undefined
  if (!found && process.env.CI === 'true')
    throw new Error('nats-server is missing: CI must install it (.ci/run)')
  return found
}

function waitForOutput(
  child: ChildProcess,
  pattern: RegExp,
  what: string,
  timeoutMs: number,
): Promise<string> {
  return new Promise((resolve, reject) => {
    let seen = ''
    const onData = (chunk: Buffer) => {
      seen += chunk.toString()
      const m = pattern.exec(seen)
      if (m !== null) {
        done()
        resolve(m[0])
      }
    }
    const onExit = (code: number | null) => {
      done()
      reject(new Error(`${what} exited (${code}) before it was ready:\n${seen}`))
    }
    const timer = setTimeout(() => {
      done()
      reject(new Error(`${what} not ready within ${timeoutMs} ms:\n${seen}`))
    }, timeoutMs)
    const done = () => {
      clearTimeout(timer)
      child.stdout?.off('data', onData)
      child.stderr?.off('data', onData)
      child.off('exit', onExit)
    }
    child.stdout?.on('data', onData)
    child.stderr?.on('data', onData)
    child.once('exit', onExit)
  })
}

export interface NatsServer {
  url: string
  port: number
  /** Stops it (SIGTERM, JetStream state kept in its directory). */
  stop(): Promise<void>
  /** Starts it again on the same port with the same JetStream directory. */
  start(): Promise<void>
  /** Stops it and removes its directory. */
  close(): Promise<void>
}

export async function startNats(): Promise<NatsServer> {
  const port = await freePort()
  const dir = mkdtempSync(join(tmpdir(), 'mqttd-nats-'))
  let child: ChildProcess | undefined
  const start = async () => {
    const c = spawn(natsBin, ['-a', '127.0.0.1', '-p', String(port), '-js', '-sd', dir], {
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    child = c
    await waitForOutput(c, /Server is ready/, 'nats-server', 15_000)
  }
  const stop = async () => {
    const c = child
    child = undefined
    if (c === undefined || c.exitCode !== null) return
    const exited = new Promise((resolve) => c.once('exit', resolve))
    c.kill('SIGTERM')
    await exited
  }
  await start()
  return {
    url: `nats://127.0.0.1:${port}`,
    port,
    stop,
    start,
    async close() {
      await stop()
      rmSync(dir, { recursive: true, force: true })
    },
  }
}

export interface MqttdNode {
  nodeId: string
  /** MQTT over TCP. */
  url: string
  adminUrl: string
  child: ChildProcess
  /** stdout and stderr so far. */
  output(): string
  kill(signal?: NodeJS.Signals): Promise<void>
}

/** Starts `mqttd --config` as its own process, a node of the cluster at `natsUrl`. */
export async function startNode(
  nodeId: string,
  natsUrl: string,
  extra: Record<string, unknown> = {},
): Promise<MqttdNode> {
  const dir = mkdtempSync(join(tmpdir(), `mqttd-${nodeId}-`))
  const config = {
    workers: 2,
    listeners: [{ name: 'tcp', type: 'tcp', host: '127.0.0.1', port: 0 }],
    admin: { host: '127.0.0.1', port: 0 },
    persistence: false,
    log: { level: 'info' },
    ...extra,
    // `extra.cluster` adds to the node's section (a test's timings) rather than replacing it
    cluster: {
      nodeId,
      nats: { servers: [natsUrl], connectTimeoutMs: 3000 },
      ...(extra.cluster as Record<string, unknown> | undefined),
    },
  }
  const file = join(dir, 'mqttd.yaml')
  writeFileSync(file, stringify(config))
  const child = spawn(node, [join(root, 'bin/mqttd.js'), '--config', file], {
    cwd: dir,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, MQTTD_LOG_PRETTY: 'false' },
  })
  let output = ''
  child.stdout!.on('data', (c: Buffer) => (output += c.toString()))
  child.stderr!.on('data', (c: Buffer) => (output += c.toString()))
  let line: string
  try {
    line = await waitForOutput(
      child,
      /\{[^\n]*"msg":"mqttd listening[^\n]*\}/,
      `mqttd node ${nodeId}`,
      60_000,
    )
  } catch (err) {
    // a node that did not come up leaves nothing behind
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
    rmSync(dir, { recursive: true, force: true })
    throw err
  }
  const parsed = JSON.parse(line) as {
    listeners: { port: number }[]
    admin: { host: string; port: number }
  }
  const kill = async (signal: NodeJS.Signals = 'SIGTERM') => {
    if (child.exitCode !== null || child.signalCode !== null) return
    const exited = new Promise((resolve) => child.once('exit', resolve))
    child.kill(signal)
    await exited
    rmSync(dir, { recursive: true, force: true })
  }
  return {
    nodeId,
    url: `mqtt://127.0.0.1:${parsed.listeners[0]!.port}`,
    adminUrl: `http://127.0.0.1:${parsed.admin.port}`,
    child,
    output: () => output,
    kill,
  }
}

/** Starts several nodes at once; when one fails, the others are stopped before the error is thrown. */
export async function startNodes(
  nodeIds: string[],
  natsUrl: string,
  extra: Record<string, unknown> = {},
): Promise<MqttdNode[]> {
  const settled = await Promise.allSettled(nodeIds.map((id) => startNode(id, natsUrl, extra)))
  const failed = settled.find((s) => s.status === 'rejected')
  const up = settled.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []))
  if (failed !== undefined) {
    await Promise.all(up.map((n) => n.kill('SIGKILL')))
    throw failed.reason
  }
  return up
}

/** Resolves with the node whose log first has a line matching `pattern`. */
export function firstLogged(nodes: MqttdNode[], pattern: RegExp): Promise<MqttdNode> {
  return new Promise((resolve) => {
    const done = (n: MqttdNode) => {
      for (const [node, onData] of listeners) {
        node.child.stdout?.off('data', onData)
        node.child.stderr?.off('data', onData)
      }
      resolve(n)
    }
    const listeners = nodes.map((n) => [n, () => pattern.test(n.output()) && done(n)] as const)
    for (const [node, onData] of listeners) {
      node.child.stdout?.on('data', onData)
      node.child.stderr?.on('data', onData)
    }
    for (const [node] of listeners) if (pattern.test(node.output())) return done(node)
  })
}

/** The sum of a counter's series on `node` (its workers' and labels'). */
export async function counterOf(node: MqttdNode, name: string): Promise<number> {
  const text = await (await fetch(`${node.adminUrl}/metrics`)).text()
  let sum = 0
  for (const line of text.split('\n'))
    if (line.startsWith(`${name}{`) || line.startsWith(`${name} `))
      sum += Number(line.slice(line.lastIndexOf(' ') + 1))
  return sum
}
