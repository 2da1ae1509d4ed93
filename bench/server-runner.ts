/**
 * Worker-side cost of one connection without sockets: the same
 * ConnectionRunner, Connection, hook chain, metrics and registry a worker
 * uses, over in-memory duplex pairs, for CONNECT → CONNACK → close. What it
 * leaves out (syscalls, the hand-off, piscina) is in `server-accept.ts`; this
 * isolates the JavaScript a worker runs per connection, for profiling
 * (`--cpu-prof`) and before/after comparisons.
 *
 *   node bench/server-runner.ts [count=20000] [concurrency=100] [rounds=5] [log level=warn]
 *
 * At `info` each connection writes its `client connected` / `client closed`
 * lines (to /dev/null, so the figure is the logging CPU without the terminal).
 *
 * Prints the median round's CPU µs per connection (and every round's).
 */
import { duplexPair } from 'node:stream'
import mqttPacket from 'mqtt-packet'
import pino from 'pino'
import { HandlerChain } from '../src/handlers/chain.ts'
import { WorkerMetrics } from '../src/metrics/worker-metrics.ts'
import { ConnectionRunner } from '../src/protocol/connection-runner.ts'
import { ConnectionRegistry } from '../src/workers/registry.ts'

const count = Number(process.argv[2] ?? 20_000)
const concurrency = Number(process.argv[3] ?? 100)
const rounds = Number(process.argv[4] ?? 5)

const level = process.argv[5] ?? 'warn'
const log = pino({ level }, pino.destination({ dest: '/dev/null', sync: true }))
const metrics = new WorkerMetrics({ workerId: 1 })
const registry = new ConnectionRegistry()
const chain = new HandlerChain([], { timeoutMs: 30_000, observer: metrics })
const limits = {
  maxPacketSize: 262_144,
  connectTimeoutMs: 10_000,
  maxKeepaliveSeconds: 0,
  receiveMaximum: 65_535,
  topicAliasMaximum: 0,
  lingerMs: 2000,
  maxLingering: 1000,
}
const connect = mqttPacket.generate({
  cmd: 'connect',
  protocolId: 'MQTT',
  protocolVersion: 4,
  clean: true,
  clientId: 'bench',
  keepalive: 0, // as the churn client (server-client.ts)
})
let sequence = 0

/** One connection, the way worker.ts serves it; resolves once it closed. */
async function one(): Promise<void> {
  const [server, client] = duplexPair()
  const runner = new ConnectionRunner({
    seq: ++sequence,
    stream: server,
    transport: 'tcp',
    listener: 'tcp',
    remoteAddress: '127.0.0.1',
    remotePort: 40_000,
    peerCertificate: null,
    chain,
    limits,
    workerId: 1,
    log,
    metrics,
  })
  registry.add(runner)
  metrics.connectionOpened('tcp', 'tcp')
  client.on('data', () => client.end()) // the CONNACK: close (FIN; an in-memory pair has no RST)
  client.write(connect)
  try {
    await runner.start()
    await runner.closed
  } finally {
    registry.delete(runner)
    metrics.connectionClosed('tcp', 'tcp')
  }
}

async function round(n: number): Promise<number> {
  let next = 0
  const cpuBefore = process.cpuUsage()
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next++ < n) await one()
    }),
  )
  const cpu = process.cpuUsage(cpuBefore)
  return (cpu.user + cpu.system) / n
}

await round(2000) // warm-up
const results: number[] = []
for (let i = 0; i < rounds; i++) results.push(await round(count))
const median = (xs: number[]) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
process.stdout.write(
  `${JSON.stringify({
    count,
    concurrency,
    level,
    rounds,
    cpuMicrosRounds: results.map((r) => Number(r.toFixed(1))),
    cpuMicrosPerConnection: Number(median(results).toFixed(1)),
  })}\n`,
)
