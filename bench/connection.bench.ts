/**
 * Connection throughput: mqttd's Connection vs mqtt-connection 4.1.0, with
 * mqtt-packet's bare parser and generate as baselines. One process, the same
 * packets and the same raw stream for both; a warm-up round, then the
 * contenders interleaved round by round and the median reported.
 *
 * Run: npm run bench:connection   (BENCH_PACKETS, BENCH_ROUNDS, BENCH_PROTOCOL=4|5)
 * BENCH_BASELINE=<checkout>: a change's cost instead. Runs this bench for mqttd's Connection
 * alone, alternately from that checkout's src/ and from this one's, in separate processes (one
 * process would share JIT feedback between the two copies), BENCH_PAIRS pairs (default 5) in
 * ABBA order, timed by CPU time, and prints the median of the per-pair ratios this ÷ baseline.
 * Method: bench/README.md
 */
import { execFileSync } from 'node:child_process'
import { createRequire } from 'node:module'
import { Duplex } from 'node:stream'
import { fileURLToPath } from 'node:url'
import mqttPacket from 'mqtt-packet'
import type { Connection as ConnectionType } from '../src/connection/connection.ts'

const BASELINE = process.env.BENCH_BASELINE
if (BASELINE !== undefined) {
  const here = fileURLToPath(new URL('..', import.meta.url))
  const runOne = (src: string) => {
    const env = { ...process.env, BENCH_BASELINE: undefined, BENCH_SRC: src, BENCH_JSON: '1' }
    const out = execFileSync(process.execPath, [fileURLToPath(import.meta.url)], { env, encoding: 'utf8' })
    return JSON.parse(out) as { inMqttd: number; outMqttd: number }
  }
  const pairs = Number(process.env.BENCH_PAIRS ?? 5)
  const ratios = { inMqttd: [] as number[], outMqttd: [] as number[] }
  for (let i = 0; i < pairs; i++) {
    // ABBA: a drift in machine load over a pair does not favour one side
    let base: { inMqttd: number; outMqttd: number }
    let ours: typeof base
    if (i % 2 === 0) {
      base = runOne(BASELINE)
      ours = runOne(here)
    } else {
      ours = runOne(here)
      base = runOne(BASELINE)
    }
    for (const k of ['inMqttd', 'outMqttd'] as const) ratios[k].push(ours[k] / base[k])
    console.log(
      `pair ${i + 1}: inbound ${(ours.inMqttd / base.inMqttd).toFixed(3)}, outbound ${(ours.outMqttd / base.outMqttd).toFixed(3)}`,
    )
  }
  const med = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)]!
  console.log(
    `this ÷ baseline (${BASELINE}), median of ${pairs} pairs: inbound ${med(ratios.inMqttd).toFixed(3)}, outbound ${med(ratios.outMqttd).toFixed(3)}`,
  )
  process.exit(0)
}
const JSON_ONLY = process.env.BENCH_JSON === '1'
/**
 * Nanoseconds: wall clock, or for a baseline comparison this process's CPU time, which other
 * jobs on a shared machine disturb far less (every round here runs on this thread alone).
 */
const now = JSON_ONLY
  ? () => {
      const { user, system } = process.cpuUsage()
      return (user + system) * 1000
    }
  : () => Number(process.hrtime.bigint())
const { Connection } = (await import(`${process.env.BENCH_SRC ?? '..'}/src/connection/connection.ts`)) as {
  Connection: typeof ConnectionType
}

const require = createRequire(import.meta.url)
// mqtt-connection is CommonJS without types; a devDependency used only here and in tests
const MqttConnection = require('mqtt-connection') as (stream: Duplex, opts?: object) => LegacyConnection
interface LegacyConnection extends NodeJS.EventEmitter {
  publish(opts: object): void
  destroy(): void
}

const PACKETS = Number(process.env.BENCH_PACKETS ?? 200_000)
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5)
// 'plain': QoS 0, no properties; 'props': v5 with properties (both on mqttd's fast paths);
// 'slow': v5 with a property the fast paths leave to mqtt-packet (reasonString), to measure that fallback
const PROFILE = (['props', 'slow'] as const).find((p) => p === process.env.BENCH_PROFILE) ?? 'plain'
const VERSION = (PROFILE !== 'plain' ? 5 : Number(process.env.BENCH_PROTOCOL ?? 4)) as 4 | 5
const CHUNK = 64 * 1024
const TOPIC = 'bench/topic/1'
const PAYLOAD = Buffer.from('hello mqtt world')

const properties = () =>
  PROFILE === 'props'
    ? { properties: { topicAlias: 7, userProperties: { k: 'v' } } }
    : PROFILE === 'slow'
      ? { properties: { topicAlias: 7, reasonString: 'r' } }
      : {}
/** A fresh options object per send: mqtt-connection mutates what it is given. */
const publishOptions = () => ({ topic: TOPIC, payload: PAYLOAD, qos: 0 as const, ...properties() })
const publishPacket = () => ({
  cmd: 'publish' as const,
  topic: TOPIC,
  payload: PAYLOAD,
  qos: 0 as const,
  retain: false,
  dup: false,
  ...properties(),
})

const one = mqttPacket.generate(publishPacket(), { protocolVersion: VERSION })
const wire = Buffer.concat(Array.from({ length: PACKETS }, () => one))
const wireBytes = wire.length
// A CONNECT alone in the first chunk: mqtt-connection swaps its parser after the first packet and
// would lose the bytes sharing its chunk (a bug mqttd fixes). Then 64 KiB chunks like TCP reads,
// so packets straddle chunk boundaries.
const chunks: Buffer[] = [
  mqttPacket.generate({ cmd: 'connect', clientId: 'bench', protocolVersion: VERSION }),
]
for (let i = 0; i < wire.length; i += CHUNK) chunks.push(wire.subarray(i, i + CHUNK))

/** The raw stream for both: its readable side replays `input` (with backpressure), its writable side counts bytes. */
function rawStream(input: Buffer[], onBytes: (n: number) => void): Duplex {
  let i = 0
  return new Duplex({
    read() {
      while (i < input.length) if (!this.push(input[i++])) return
    },
    write(chunk: Buffer, _enc, cb) {
      onBytes(chunk.length)
      cb()
    },
    writev(list, cb) {
      let n = 0
      for (const { chunk } of list) n += (chunk as Buffer).length
      onBytes(n)
      cb()
    },
  })
}

/** One round; resolves with the elapsed nanoseconds. */
type Run = () => Promise<number>

function inbound(make: (raw: Duplex) => NodeJS.EventEmitter & { destroy(): void }): Run {
  return () =>
    new Promise((resolve) => {
      let count = 0
      const conn = make(rawStream(chunks, () => {}))
      const start = now()
      conn.on('publish', () => {
        if (++count === PACKETS) {
          resolve(now() - start)
          conn.destroy()
        }
      })
    })
}

const inboundBare: Run = async () => {
  const parser = mqttPacket.parser({ protocolVersion: VERSION })
  let count = 0
  parser.on('packet', (packet) => {
    if (packet.cmd === 'publish') count++
  })
  const start = now()
  for (const c of chunks) parser.parse(c)
  const ns = now() - start
  if (count !== PACKETS) throw new Error(`bare parser: ${count} publishes`)
  return ns
}

/** Sends PACKETS publishes; `send` returns false when the caller should wait for 'drain'. */
function outbound(
  make: (raw: Duplex) => NodeJS.EventEmitter & { destroy(): void },
  send: (c: never) => unknown,
): Run {
  return () =>
    new Promise((resolve) => {
      let bytes = 0
      let sent = 0
      const start = now()
      const conn = make(
        rawStream([], (n) => {
          bytes += n
          if (bytes === wireBytes) {
            resolve(now() - start)
            conn.destroy()
          }
        }),
      )
      const pump = () => {
        while (sent < PACKETS) {
          sent++
          if (send(conn as never) === false) return void conn.once('drain', pump)
        }
      }
      pump()
    })
}

const outboundBare: Run = async () => {
  let bytes = 0
  const start = now()
  for (let i = 0; i < PACKETS; i++)
    bytes += mqttPacket.generate(publishPacket(), { protocolVersion: VERSION }).length
  const ns = now() - start
  if (bytes !== wireBytes) throw new Error('bare generate: byte count mismatch')
  return ns
}

const opts = { protocolVersion: VERSION }
const runs = {
  inMqttd: inbound((raw) => Connection(raw, opts)),
  inLegacy: inbound((raw) => MqttConnection(raw, opts)),
  inBare: inboundBare,
  // mqttd honours backpressure (waits for 'drain' on false); mqtt-connection returns nothing and buffers
  outMqttd: outbound(
    (raw) => Connection(raw, opts),
    (c: ReturnType<typeof Connection>) => c.publish(publishOptions()),
  ),
  outLegacy: outbound(
    (raw) => MqttConnection(raw, opts),
    (c: LegacyConnection) => c.publish(publishOptions()),
  ),
  outBare: outboundBare,
}
type Name = keyof typeof runs
if (JSON_ONLY) {
  // a baseline comparison needs mqttd's two numbers only
  for (const k of ['inLegacy', 'inBare', 'outLegacy', 'outBare'] as const)
    delete (runs as Partial<typeof runs>)[k]
}

const rates = Object.fromEntries(Object.keys(runs).map((k) => [k, [] as number[]])) as Record<Name, number[]>
for (const run of Object.values(runs)) await run() // warm-up
// interleaved, so drift (other load, GC, JIT) hits every contender alike
for (let r = 0; r < ROUNDS; r++) {
  for (const [name, run] of Object.entries(runs) as [Name, Run][])
    rates[name].push(PACKETS / ((await run()) / 1e9))
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
const m = Object.fromEntries(Object.entries(rates).map(([k, v]) => [k, median(v)])) as Record<Name, number>

if (JSON_ONLY) {
  console.log(JSON.stringify({ inMqttd: m.inMqttd, outMqttd: m.outMqttd }))
  process.exit(0)
}
const fmt = (n: number) => `${(n / 1e6).toFixed(2)} M/s`
const ratio = (a: number, b: number) => `${(a / b).toFixed(2)}×`
const pct = (a: number, b: number) => `${((a / b) * 100).toFixed(0)}%`
console.log(
  `MQTT ${VERSION === 5 ? '5' : '3.1.1'} QoS 0 publishes ${PROFILE === 'props' ? 'with properties ' : PROFILE === 'slow' ? 'with properties left to mqtt-packet ' : ''}of ${one.length} bytes, ${PACKETS} per round, ` +
    `median of ${ROUNDS} rounds after a warm-up; node ${process.version} ${process.platform}/${process.arch}\n`,
)
console.log(
  '| direction | mqttd Connection | mqtt-connection 4.1.0 | mqtt-packet bare | mqttd ÷ mqtt-connection | mqttd ÷ bare |',
)
console.log('|---|--:|--:|--:|--:|--:|')
console.log(
  `| inbound (parse) | ${fmt(m.inMqttd)} | ${fmt(m.inLegacy)} | ${fmt(m.inBare)} (parser) | ${ratio(m.inMqttd, m.inLegacy)} | ${pct(m.inMqttd, m.inBare)} |`,
)
console.log(
  `| outbound (generate) | ${fmt(m.outMqttd)} | ${fmt(m.outLegacy)} | ${fmt(m.outBare)} (generate) | ${ratio(m.outMqttd, m.outLegacy)} | ${pct(m.outMqttd, m.outBare)} |`,
)
