/**
 * Command-line options of the load generator (node:util parseArgs), with the
 * bounds every load must respect: loopback targets only, a finite message or
 * connection count, and a time limit.
 */
import { parseArgs } from 'node:util'
import { assertLoopback, sourceAddresses, type Target } from './transport.ts'

export const SCENARIOS = ['pub', 'conn', 'idle'] as const
export type Scenario = (typeof SCENARIOS)[number]

/** Hard ceilings, whatever the command line says. */
export const LIMITS = { durationS: 600, connections: 60_000, publishers: 5_000, messages: 50_000_000 }

export interface CommonConfig {
  scenario: Scenario
  target: Target
  protocolVersion: 4 | 5
  serverPid: number | undefined
  threads: number
  sourceIps: string[]
  durationS: number
  timeoutMs: number
  out: string | undefined
  label: string
  quiet: boolean
}

export interface PubConfig extends CommonConfig {
  scenario: 'pub'
  publishers: number
  subscribers: number
  payload: number
  qos: 0 | 1
  subQos: 0 | 1
  /** Total messages per second over all publishers; 0 = unpaced. */
  rate: number
  messages: number
  window: number
  shared: boolean
  /** Subscribers with persistent sessions (3.1.1 clean session 0). */
  persistent: boolean
  /** Point to point: subscriber i subscribes to publisher i's topic only (subscribers = publishers). */
  pairs: boolean
}

export interface ConnConfig extends CommonConfig {
  scenario: 'conn' | 'idle'
  connections: number
  rate: number
  concurrency: number
  holdS: number
  settleS: number
  keepalive: number
}

export type Config = PubConfig | ConnConfig

export const USAGE = `usage: npm run load -- <pub|conn|idle> [options]

common:  --transport tcp|tls|ws  --host 127.0.0.1  --port 1883  --path /mqtt  --mqtt-version 4|5
         --server-pid PID (report its CPU/RSS)  --threads N  --source-ips N (127.0.0.1..N)
         --duration S (time limit, default 10, max ${LIMITS.durationS})  --timeout MS  --out FILE  --label NAME  --quiet
pub:     --publishers 10  --subscribers 1  --payload 64  --qos 0|1  --sub-qos 0|1  --rate MSG/S (total, 0 = max)
         --messages N (per publisher, default 10000)  --window 100 (QoS 1 in flight per publisher)  --shared
         --persistent (subscribers with clean session 0)  --pairs (subscriber i gets publisher i's topic)
conn:    --connections 1000  --rate CONN/S (0 = max)  --concurrency 100  --hold S (0 = close at once)
idle:    --connections 10000  --hold S (default 3)  --settle S (default 2)  --server-pid PID (required)`

function int(name: string, value: string | undefined, def: number, min: number, max: number): number {
  if (value === undefined) return def
  const n = Number(value)
  if (!Number.isFinite(n) || n < min || n > max)
    throw new Error(`--${name} must be a number in [${min}, ${max}]`)
  return n
}

/** Parses and validates argv (without node and script). */
export function parseConfig(argv: string[]): Config {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      transport: { type: 'string', default: 'tcp' },
      host: { type: 'string', default: '127.0.0.1' },
      port: { type: 'string', default: '1883' },
      path: { type: 'string', default: '/mqtt' },
      'mqtt-version': { type: 'string', default: '4' },
      'server-pid': { type: 'string' },
      threads: { type: 'string' },
      'source-ips': { type: 'string' },
      duration: { type: 'string' },
      timeout: { type: 'string' },
      out: { type: 'string' },
      label: { type: 'string' },
      quiet: { type: 'boolean', default: false },
      publishers: { type: 'string' },
      subscribers: { type: 'string' },
      payload: { type: 'string' },
      qos: { type: 'string' },
      'sub-qos': { type: 'string' },
      rate: { type: 'string' },
      messages: { type: 'string' },
      window: { type: 'string' },
      shared: { type: 'boolean', default: false },
      persistent: { type: 'boolean', default: false },
      pairs: { type: 'boolean', default: false },
      connections: { type: 'string' },
      concurrency: { type: 'string' },
      hold: { type: 'string' },
      settle: { type: 'string' },
      keepalive: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  })
  const scenario = positionals[0] as Scenario
  if (values.help || !SCENARIOS.includes(scenario)) throw new Error(USAGE)
  if (values.transport !== 'tcp' && values.transport !== 'tls' && values.transport !== 'ws')
    throw new Error('--transport must be tcp, tls or ws')
  assertLoopback(values.host)
  const version = int('mqtt-version', values['mqtt-version'], 4, 4, 5)
  const serverPid =
    values['server-pid'] === undefined ? undefined : int('server-pid', values['server-pid'], 0, 1, 2 ** 31)
  const common: CommonConfig = {
    scenario,
    target: {
      transport: values.transport,
      host: values.host,
      port: int('port', values.port, 1883, 1, 65535),
      path: values.path,
    },
    protocolVersion: version === 5 ? 5 : 4,
    serverPid,
    threads: int('threads', values.threads, 1, 1, 16),
    sourceIps: [],
    durationS: int('duration', values.duration, 10, 0.1, LIMITS.durationS),
    timeoutMs: int('timeout', values.timeout, 10_000, 100, 120_000),
    out: values.out,
    label: values.label ?? scenario,
    quiet: values.quiet,
  }
  if (scenario === 'pub') {
    const publishers = int('publishers', values.publishers, 10, 1, LIMITS.publishers)
    const subscribers = int('subscribers', values.subscribers, 1, 0, LIMITS.publishers)
    const qos = int('qos', values.qos, 0, 0, 1) as 0 | 1
    common.sourceIps = sourceAddresses(int('source-ips', values['source-ips'], 1, 1, 254))
    return {
      ...common,
      scenario,
      publishers,
      subscribers,
      payload: int('payload', values.payload, 64, 16, 1_000_000),
      qos,
      subQos: int('sub-qos', values['sub-qos'], qos, 0, 1) as 0 | 1,
      rate: int('rate', values.rate, 0, 0, 10_000_000),
      messages: int('messages', values.messages, 10_000, 1, Math.floor(LIMITS.messages / publishers)),
      window: int('window', values.window, 100, 1, 60_000),
      shared: values.shared,
      persistent: values.persistent,
      pairs: values.pairs,
    }
  }
  const connections = int(
    'connections',
    values.connections,
    scenario === 'idle' ? 10_000 : 1000,
    1,
    LIMITS.connections,
  )
  if (scenario === 'idle' && serverPid === undefined)
    throw new Error('idle needs --server-pid to read the server RSS')
  // ~28k ephemeral ports per source address; leave headroom
  const defaultIps = Math.max(4, Math.ceil(connections / 20_000))
  const ips = int('source-ips', values['source-ips'], defaultIps, 0, 254)
  // 0: let the kernel pick the source (no bind before connect)
  common.sourceIps = ips === 0 ? [] : sourceAddresses(ips)
  return {
    ...common,
    scenario,
    connections,
    rate: int('rate', values.rate, 0, 0, 1_000_000),
    concurrency: int('concurrency', values.concurrency, 100, 1, 10_000),
    holdS: int('hold', values.hold, scenario === 'idle' ? 3 : 0, 0, LIMITS.durationS),
    settleS: int('settle', values.settle, 2, 0, 60),
    keepalive: int('keepalive', values.keepalive, 120, 0, 65535),
  }
}
