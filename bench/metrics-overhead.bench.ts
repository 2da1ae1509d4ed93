/**
 * What counting costs: a QoS 0 publish flood through mqttd's Connection, each
 * packet counted the way the connection runner counts it
 * (`packetReceived(cmd)` + `messageReceived(qos)`), with
 * - off:        a no-op sink with the same methods,
 * - mqttd:      WorkerMetrics (children bound once; an increment is a property add),
 * - prom-bound: prom-client children from `labels()` kept per label value
 *               (what "pre-bound" means with prom-client: it still hashes labels per call),
 * - prom-labels: prom-client `inc({ type }, 1)` per packet (a label lookup per call).
 * Same process, same packets, rounds interleaved; the median rate of each.
 * Run: node_modules/.bin/node bench/metrics-overhead.bench.ts
 *      (BENCH_PACKETS=200000 BENCH_ROUNDS=7 by default)
 */
import { Duplex } from 'node:stream'
import mqttPacket from 'mqtt-packet'
import { Counter, Registry } from 'prom-client'
import { Connection } from '../src/connection/connection.ts'
import { packetTypes } from '../src/metrics/names.ts'
import { WorkerMetrics } from '../src/metrics/worker-metrics.ts'

const PACKETS = Number(process.env.BENCH_PACKETS ?? 200_000)
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 7)
const CHUNK = 64 * 1024

interface Sink {
  packetReceived(cmd: string): void
  messageReceived(qos: number): void
}

const one = mqttPacket.generate({
  cmd: 'publish',
  topic: 'bench/topic/1',
  payload: Buffer.from('hello mqtt world'),
  qos: 0,
  retain: false,
  dup: false,
})
const wire = Buffer.concat(Array.from({ length: PACKETS }, () => one))
const chunks: Buffer[] = [mqttPacket.generate({ cmd: 'connect', clientId: 'bench', protocolVersion: 4 })]
for (let i = 0; i < wire.length; i += CHUNK) chunks.push(wire.subarray(i, i + CHUNK))

function rawStream(input: Buffer[]): Duplex {
  let i = 0
  return new Duplex({
    read() {
      while (i < input.length) if (!this.push(input[i++])) return
    },
    write(_chunk, _enc, cb) {
      cb()
    },
  })
}

/** One flood through a Connection, counting into `sink`; resolves elapsed ns. */
function flood(sink: Sink): Promise<number> {
  return new Promise((resolve) => {
    let count = 0
    const conn = Connection(rawStream(chunks))
    const start = process.hrtime.bigint()
    conn.on('publish', (packet: { cmd: string; qos: number }) => {
      sink.packetReceived(packet.cmd)
      sink.messageReceived(packet.qos)
      if (++count === PACKETS) {
        const ns = Number(process.hrtime.bigint() - start)
        conn.destroy()
        resolve(ns)
      }
    })
  })
}

function promSinks(): { bound: Sink; labels: Sink } {
  const registry = new Registry()
  const packets = new Counter({ name: 'p_total', help: 'p', labelNames: ['type'], registers: [registry] })
  const messages = new Counter({ name: 'm_total', help: 'm', labelNames: ['qos'], registers: [registry] })
  const byType = new Map(packetTypes.map((t) => [t, packets.labels(t)] as [string, { inc(): void }]))
  const byQos = [0, 1, 2].map((q) => messages.labels(String(q)))
  return {
    bound: {
      packetReceived: (cmd) => byType.get(cmd)?.inc(),
      messageReceived: (qos) => byQos[qos]?.inc(),
    },
    labels: {
      packetReceived: (cmd) => packets.inc({ type: cmd }, 1),
      messageReceived: (qos) => messages.inc({ qos: String(qos) }, 1),
    },
  }
}

const off: Sink = { packetReceived() {}, messageReceived() {} }
const mqttd = new WorkerMetrics({ workerId: 1 })
const prom = promSinks()
const sinks: Record<string, Sink> = { off, mqttd, 'prom-bound': prom.bound, 'prom-labels': prom.labels }

const rates: Record<string, number[]> = Object.fromEntries(Object.keys(sinks).map((k) => [k, []]))
for (const sink of Object.values(sinks)) await flood(sink) // warm-up
for (let r = 0; r < ROUNDS; r++) {
  for (const [name, sink] of Object.entries(sinks)) rates[name]!.push(PACKETS / ((await flood(sink)) / 1e9))
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
const results = Object.fromEntries(Object.entries(rates).map(([k, v]) => [k, median(v)]))

// Sanity: the counters saw every packet of every round.
const counted = (await mqttd.registry.getSingleMetric('mqttd_packets_received_total')?.get())?.values.find(
  (v) => v.labels.type === 'publish',
)?.value
if (counted !== PACKETS * (ROUNDS + 1)) throw new Error(`WorkerMetrics counted ${counted} publishes`)

// The bare cost of the two calls, without parsing around them.
function perCall(sink: Sink): number {
  const n = 5_000_000
  const start = process.hrtime.bigint()
  for (let i = 0; i < n; i++) {
    sink.packetReceived('publish')
    sink.messageReceived(0)
  }
  return Number(process.hrtime.bigint() - start) / n
}
for (const sink of Object.values(sinks)) perCall(sink) // warm-up
const nsPerPacket = Object.fromEntries(Object.entries(sinks).map(([k, s]) => [k, perCall(s)]))

console.log(`QoS 0 publishes of ${one.length} bytes through Connection, ${PACKETS} per round,`)
console.log(`median of ${ROUNDS} interleaved rounds after warm-up; node ${process.version}\n`)
console.log('| counting | publishes/s | vs off | ns per packet (2 calls, no parsing) |')
console.log('|---|---|---|---|')
for (const name of Object.keys(sinks)) {
  const rate = results[name]!
  console.log(
    `| ${name} | ${(rate / 1e6).toFixed(3)} M/s | ${((rate / results.off!) * 100).toFixed(1)}% | ${nsPerPacket[name]!.toFixed(1)} |`,
  )
}
