/**
 * The brokers bench:compare runs side by side: mqttd (bin/mqttd.js), Debian's
 * mosquitto started by hand with a config of ours, and aedes (npm). Each is
 * started on a free loopback port, optionally pinned to one CPU with taskset,
 * with its open-file limit raised in the spawning shell.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import net from 'node:net'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { freePorts } from '../free-ports.ts'

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..')

/**
 * The floors of the connection figures, which answer CONNECT and PINGREQ only: `bare`, a Node
 * `net.Server` in one thread; `bare-handoff`, mqttd's main-thread accept and hand-off to one worker
 * thread, which answers (what mqttd's design costs before any MQTT).
 */
export type TargetName = 'mqttd' | 'mosquitto' | 'aedes' | 'bare' | 'bare-handoff'
export const TARGET_NAMES: TargetName[] = ['mqttd', 'mosquitto', 'aedes', 'bare', 'bare-handoff']
/** The targets that only answer CONNECT and PINGREQ: run for the connection figures only. */
export const FLOOR_TARGETS: ReadonlySet<TargetName> = new Set(['bare', 'bare-handoff'])

export interface StartOptions {
  /** CPU list for taskset (e.g. "0"), or null to run unpinned. */
  cpus: string | null
  mqttdWorkers: number
  /** Extra fields merged into the generated mqttd config. */
  mqttdConfig: Record<string, unknown>
  /** Another checkout of mqttd to start instead of this one (bench:scaling's --baseline). */
  root?: string
  /** mosquitto: `persistence true` (saved every autosave_interval and at shutdown) in the server's temp dir. */
  mosquittoPersistence?: boolean
  /** How long to wait for the server to listen. Default 15 s. */
  startTimeoutMs?: number
  /** Node flags for a server that runs on Node (all but mosquitto), before its script. */
  nodeFlags?: readonly string[]
}

export interface RunningServer {
  name: TargetName
  pid: number
  port: number
  /** Server version / command line, for the report. */
  description: string
  /** mqttd: the admin API's port (its /metrics). */
  adminPort?: number
  stop(): Promise<void>
}

export const MOSQUITTO_BIN = '/usr/sbin/mosquitto'

/** Why a target cannot start here, or null when it can. */
export function unavailable(name: TargetName): string | null {
  if (name === 'mosquitto' && !existsSync(MOSQUITTO_BIN)) {
    return `${MOSQUITTO_BIN} missing (apt-get install -y mosquitto)`
  }
  if (name === 'mqttd' && !existsSync(join(root, 'src', 'cli', 'main.ts'))) {
    return 'bin/mqttd.js is not runnable yet (src/cli/main.ts missing)'
  }
  return null
}

function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`
}

/**
 * Spawns `argv` through bash so `ulimit -n` applies to the server itself
 * (exec keeps the pid), pinned with taskset when asked.
 */
function spawnServer(argv: string[], cpus: string | null): ChildProcess {
  const cmd = `ulimit -n "$(ulimit -Hn)" 2>/dev/null; exec ${argv.map(shellQuote).join(' ')}`
  const full = cpus === null ? ['bash', '-c', cmd] : ['taskset', '-c', cpus, 'bash', '-c', cmd]
  return spawn(full[0]!, full.slice(1), { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] })
}

async function waitForPort(
  port: number,
  child: ChildProcess,
  ms: number,
  output: () => string,
): Promise<void> {
  const until = Date.now() + ms
  while (Date.now() < until) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(
        `exited (${child.exitCode ?? child.signalCode}) before listening: ${output().slice(-600)}`,
      )
    }
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect({ host: '127.0.0.1', port }, () => {
        s.destroy()
        resolve(true)
      })
      s.once('error', () => resolve(false))
    })
    if (ok) return
    await new Promise((r) => setTimeout(r, 100))
  }
  throw new Error(`not listening on ${port} after ${ms} ms: ${output().slice(-600)}`)
}

function stopper(child: ChildProcess, cleanup: () => void): () => Promise<void> {
  return async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
      child.kill('SIGTERM')
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000)
      await exited
      clearTimeout(timer)
    }
    cleanup()
  }
}

/** Starts one broker and resolves once it accepts TCP connections. */
export async function startServer(name: TargetName, opts: StartOptions): Promise<RunningServer> {
  // the second is mqttd's admin API
  const [port, spare] = (await freePorts(2)) as [number, number]
  const dir = mkdtempSync(join(tmpdir(), `lt-${name}-`))
  const cleanup = () => rmSync(dir, { recursive: true, force: true })
  let argv: string[]
  let description: string
  let adminPort: number | undefined
  const node = [process.execPath, ...(opts.nodeFlags ?? [])]
  if (name === 'mosquitto') {
    const conf = join(dir, 'mosquitto.conf')
    // defaults otherwise: logging and persistence off the hot path, Nagle off
    // (as the Node servers do; with it on, p99 sits at the 40 ms delayed-ACK
    // timer), and a QoS 1 window / queue that match the generator's window of
    // 100 instead of dropping a burst at 1000 queued messages
    writeFileSync(
      conf,
      [
        `listener ${port} 127.0.0.1`,
        'allow_anonymous true',
        ...(opts.mosquittoPersistence === true
          ? ['persistence true', `persistence_location ${dir}/`]
          : ['persistence false']),
        'log_dest stderr',
        'log_type error',
        'set_tcp_nodelay true',
        'max_inflight_messages 100',
        'max_queued_messages 1000000',
        '',
      ].join('\n'),
    )
    argv = [MOSQUITTO_BIN, '-c', conf]
    description = `mosquitto (Debian) -c ${conf}`
  } else if (name === 'bare') {
    argv = [...node, join(root, 'load-tests', 'connections', 'bare-server.ts'), String(port)]
    description =
      'bare Node net.Server (no MQTT beyond CONNACK/PINGRESP), load-tests/connections/bare-server.ts'
  } else if (name === 'bare-handoff') {
    argv = [...node, join(root, 'load-tests', 'connections', 'bare-handoff-server.ts'), String(port)]
    description =
      "mqttd's accept and hand-off to one worker thread answering CONNACK/PINGRESP, load-tests/connections/bare-handoff-server.ts"
  } else if (name === 'aedes') {
    argv = [...node, join(root, 'load-tests', 'compare', 'aedes-server.ts'), '--port', String(port)]
    description = 'aedes (npm), load-tests/compare/aedes-server.ts'
  } else {
    adminPort = spare
    const config = {
      listeners: [{ name: 'tcp', type: 'tcp', host: '127.0.0.1', port }],
      workers: opts.mqttdWorkers,
      admin: { host: '127.0.0.1', port: adminPort },
      log: { level: 'warn' },
      // same QoS 1 window and queue as the mosquitto config above
      broker: { maxInflightMessages: 100, maxQueuedMessages: 1_000_000 },
      // like mosquitto above (persistence false); bench:persistence measures the store
      persistence: false,
      ...opts.mqttdConfig,
    }
    const file = join(dir, 'mqttd.json')
    writeFileSync(file, JSON.stringify(config, null, 2))
    argv = [...node, join(opts.root ?? root, 'bin', 'mqttd.js'), '--config', file]
    description = `mqttd ${JSON.stringify(config)}`
  }
  const child = spawnServer(argv, opts.cpus)
  let output = ''
  const keep = (d: Buffer) => {
    output = (output + d.toString()).slice(-4000)
  }
  child.stdout!.on('data', keep)
  child.stderr!.on('data', keep)
  try {
    await waitForPort(port, child, opts.startTimeoutMs ?? 60_000, () => output)
  } catch (err) {
    await stopper(child, cleanup)()
    throw err
  }
  return { name, pid: child.pid!, port, description, adminPort, stop: stopper(child, cleanup) }
}
