/**
 * Connection throughput: mqttd's Connection vs mqtt-connection 4.1.0, with
 * mqtt-packet's bare parser and generate as baselines. One process, same
 * packets, same sink; warm-up, then the median of several rounds.
 * Run: npm run bench:connection  (see bench/README.md)
 */
import { createRequire } from 'node:module'
import { Duplex } from 'node:stream'
import mqttPacket from 'mqtt-packet'
import { Connection } from '../src/connection/connection.ts'

const require = createRequire(import.meta.url)
// mqtt-connection is CommonJS without types; it is a devDependency used only here and in tests
const MqttConnection = require('mqtt-connection') as (stream: Duplex, opts?: object) => LegacyConnection
interface LegacyConnection extends NodeJS.EventEmitter {
  publish(opts: object): void
  destroy(): void
}

const PACKETS = Number(process.env.BENCH_PACKETS ?? 200_000)
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5)
const CHUNK = 64 * 1024

const publish = {
  cmd: 'publish' as const,
  topic: 'bench/topic/1',
  payload: Buffer.from('hello mqtt world'),
  qos: 0 as const,
  retain: false,
  dup: false,
}
const one = mqttPacket.generate(publish)
const wire = Buffer.concat(Array.from({ length: PACKETS }, () => one))
// cut at fixed offsets like TCP reads: packets straddle chunk boundaries
// a CONNECT alone first: mqtt-connection swaps its parser after the first packet and would lose
// bytes that share its chunk (one of the bugs mqttd fixes)
const connect = mqttPacket.generate({ cmd: 'connect', clientId: 'bench', protocolVersion: 4 })
const chunks: Buffer[] = [connect]
for (let i = 0; i < wire.length; i += CHUNK) chunks.push(wire.subarray(i, i + CHUNK))
const wireBytes = wire.length

/** A raw stream: its readable side replays `input` (honouring backpressure), its writable side counts bytes. */
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

type Run = () => Promise<number> // returns elapsed ns

function inbound(make: (raw: Duplex) => NodeJS.EventEmitter & { destroy(): void }): Run {
  return () =>
    new Promise((resolve) => {
      let count = 0
      const raw = rawStream(chunks, () => {})
      const conn = make(raw)
      const start = process.hrtime.bigint()
      conn.on('publish', () => {
        if (++count === PACKETS) {
          const ns = Number(process.hrtime.bigint() - start)
          conn.destroy()
          resolve(ns)
        }
      })
    })
}

function inboundBareParser(): Run {
  return async () => {
    const parser = mqttPacket.parser()
    let count = 0
    parser.on('packet', (packet: { cmd: string }) => {
      if (packet.cmd === 'publish') count++
    })
    const start = process.hrtime.bigint()
    for (const c of chunks) parser.parse(c)
    const ns = Number(process.hrtime.bigint() - start)
    if (count !== PACKETS) throw new Error(`parsed ${count}`)
    return ns
  }
}

function outboundMqttd(): Run {
  return () =>
    new Promise((resolve) => {
      let bytes = 0
      let sent = 0
      const start = process.hrtime.bigint()
      const raw = rawStream([], (n) => {
        bytes += n
        if (bytes === wireBytes) {
          resolve(Number(process.hrtime.bigint() - start))
          conn.destroy()
        }
      })
      const conn = Connection(raw)
      const pkt = { topic: publish.topic, payload: publish.payload, qos: publish.qos }
      const pump = () => {
        while (sent < PACKETS) {
          sent++
          if (!conn.publish(pkt)) return void conn.once('drain', pump)
        }
      }
      pump()
    })
}

function outboundLegacy(): Run {
  return () =>
    new Promise((resolve) => {
      let bytes = 0
      const start = process.hrtime.bigint()
      const raw = rawStream([], (n) => {
        bytes += n
        if (bytes === wireBytes) {
          resolve(Number(process.hrtime.bigint() - start))
          conn.destroy()
        }
      })
      const conn = MqttConnection(raw)
      // mqtt-connection returns nothing from publish and mutates the options: fresh object each time
      for (let i = 0; i < PACKETS; i++)
        conn.publish({ topic: publish.topic, payload: publish.payload, qos: 0 })
    })
}

function outboundBareGenerate(): Run {
  return async () => {
    let bytes = 0
    const start = process.hrtime.bigint()
    for (let i = 0; i < PACKETS; i++) bytes += mqttPacket.generate(publish).length
    const ns = Number(process.hrtime.bigint() - start)
    if (bytes !== wireBytes) throw new Error('bytes mismatch')
    return ns
  }
}

const runs: Record<string, Run> = {
  inMqttd: inbound((raw) => Connection(raw)),
  inLegacy: inbound((raw) => MqttConnection(raw)),
  inBare: inboundBareParser(),
  outMqttd: outboundMqttd(),
  outLegacy: outboundLegacy(),
  outBare: outboundBareGenerate(),
}
type Name = keyof typeof runs

// interleave the contenders round by round, so drift (other load, GC, JIT) hits all of them alike
const rates: Record<Name, number[]> = {}
for (const name of Object.keys(runs)) await runs[name]!() // warm-up
for (let r = 0; r < ROUNDS; r++) {
  for (const [name, run] of Object.entries(runs)) (rates[name] ??= []).push(PACKETS / ((await run()) / 1e9))
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
const results = Object.fromEntries(Object.entries(rates).map(([k, v]) => [k, median(v)])) as Record<
  'inMqttd' | 'inLegacy' | 'inBare' | 'outMqttd' | 'outLegacy' | 'outBare',
  number
>

const fmt = (n: number) => `${(n / 1e6).toFixed(3)} M/s`
console.log(
  `publishes of ${one.length} bytes, ${PACKETS} per round, median of ${ROUNDS} rounds after warm-up`,
)
console.log(`node ${process.version}, ${process.platform}/${process.arch}\n`)
console.log(
  '| direction | mqttd Connection | mqtt-connection 4.1.0 | mqtt-packet bare | mqttd / mqtt-connection | mqttd / bare |',
)
console.log('|---|---|---|---|---|---|')
console.log(
  `| inbound (parse) | ${fmt(results.inMqttd)} | ${fmt(results.inLegacy)} | ${fmt(results.inBare)} | ${(results.inMqttd / results.inLegacy).toFixed(2)}× | ${((results.inMqttd / results.inBare) * 100).toFixed(0)}% |`,
)
console.log(
  `| outbound (generate) | ${fmt(results.outMqttd)} | ${fmt(results.outLegacy)} | ${fmt(results.outBare)} | ${(results.outMqttd / results.outLegacy).toFixed(2)}× | ${((results.outMqttd / results.outBare) * 100).toFixed(0)}% |`,
)
