#!/usr/bin/env node
/**
 * `npm run bench:cluster`: two mqttd nodes (separate processes) joined through
 * a local nats-server with JetStream. For QoS 0, 1 and 2 (`--qos`) it measures one
 * publisher → one subscriber on the same node and across nodes (publisher on
 * A, subscriber on B), interleaved round by round in one run (the machine may
 * be shared: compare within a round). Prints delivered msg/s, end-to-end p50 /
 * p99 and the cross-node / same-node ratios. Loopback only; bounded in
 * messages and time.
 *
 * `--shared`: the subscriber is a persistent (session expiry 60 s) member of a
 * share group, `$share/bench/<topic>`, so QoS 1 goes through the group's
 * JetStream consumer and the member holds each message's acknowledgement.
 *
 * usage: npm run bench:cluster -- [--rounds 3] [--messages 20000] [--workers 1] [--qos 0,1,2] [--shared]
 */
import { performance } from 'node:perf_hooks'
import { parseArgs } from 'node:util'
import mqtt, { type MqttClient } from 'mqtt'
import { hasNatsServer, type MqttdNode, startNats, startNodes } from '../../test/helpers/nats.ts'

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '3' },
    messages: { type: 'string', default: '20000' },
    workers: { type: 'string', default: '1' },
    window: { type: 'string', default: '100' },
    shared: { type: 'boolean', default: false },
    qos: { type: 'string', default: '0,1,2' },
  },
})
const levels = [...new Set(values.qos.split(',').map(Number))].filter(
  (q): q is 0 | 1 | 2 => q === 0 || q === 1 || q === 2,
)
const rounds = Math.max(1, Math.min(9, Number(values.rounds)))
const messages = Math.max(100, Math.min(200_000, Number(values.messages)))
const window = Number(values.window)
const latencyMessages = 1000
const log = (line: string) => process.stderr.write(`${line}\n`)

interface Sample {
  rate: number
  p50: number
  p99: number
  lost: number
}

const now = () => performance.timeOrigin + performance.now()

function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return Number.NaN
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!
}

async function once(
  pubUrl: string,
  subUrl: string,
  qos: 0 | 1 | 2,
  topic: string,
  messages: number,
  window: number,
): Promise<Sample> {
  const sub: MqttClient = await mqtt.connectAsync(
    subUrl,
    values.shared
      ? {
          protocolVersion: 5,
          reconnectPeriod: 0,
          clientId: `bench-${topic.replaceAll('/', '-')}`,
          clean: false,
          properties: { sessionExpiryInterval: 60 },
        }
      : { protocolVersion: 5, reconnectPeriod: 0 },
  )
  const pub: MqttClient = await mqtt.connectAsync(pubUrl, { protocolVersion: 5, reconnectPeriod: 0 })
  const latencies: number[] = []
  // window 1: the next message leaves once the previous one arrived (a latency, not a queue)
  let arrived: () => void = () => {}
  let last = 0
  let done: () => void = () => {}
  const finished = new Promise<void>((resolve) => {
    done = resolve
  })
  sub.on('message', (_t, payload) => {
    const t = now()
    latencies.push(t - payload.readDoubleBE(0))
    last = t
    arrived()
    if (latencies.length === messages) done()
  })
  await sub.subscribeAsync(values.shared ? `$share/bench/${topic}` : topic, { qos })
  const payload = Buffer.alloc(64)
  const start = now()
  let inFlight = 0
  let wake: () => void = () => {}
  for (let i = 0; i < messages; i++) {
    while (inFlight >= window) await new Promise<void>((resolve) => (wake = resolve))
    inFlight++
    const p = Buffer.from(payload)
    p.writeDoubleBE(now(), 0)
    const received = window === 1 ? new Promise<void>((resolve) => (arrived = resolve)) : undefined
    pub.publish(topic, p, { qos }, () => {
      inFlight--
      wake()
    })
    if (received !== undefined)
      await Promise.race([received, new Promise((resolve) => setTimeout(resolve, 1000).unref())])
  }
  // QoS 0 may drop (slow consumer): wait until nothing more arrives for a second
  let seen = -1
  while (latencies.length < messages && seen !== latencies.length) {
    seen = latencies.length
    await Promise.race([finished, new Promise((resolve) => setTimeout(resolve, 1000))])
  }
  await Promise.all([pub.endAsync(), sub.endAsync()])
  latencies.sort((x, y) => x - y)
  return {
    rate: latencies.length / ((last - start) / 1000),
    p50: quantile(latencies, 0.5),
    p99: quantile(latencies, 0.99),
    lost: messages - latencies.length,
  }
}

if (!hasNatsServer()) {
  log('nats-server is not installed (Debian: apt-get install nats-server)')
  process.exit(1)
}
const nats = await startNats()
// info: the helper reads the node's port from its "mqttd listening" line
const extra = { workers: Number(values.workers) }
let a: MqttdNode
let b: MqttdNode
try {
  ;[a, b] = (await startNodes(['a', 'b'], nats.url, extra)) as [MqttdNode, MqttdNode]
} catch (err) {
  await nats.close()
  throw err
}
const results = new Map<string, Sample[]>()
try {
  for (let round = 1; round <= rounds; round++) {
    for (const qos of levels) {
      for (const [name, subUrl] of [
        ['same node', a.url],
        ['cross node', b.url],
      ] as const) {
        const key = `QoS ${qos} ${name}`
        const topic = `bench/${round}/${qos}/${name.replace(' ', '-')}`
        // throughput with `window` messages in flight; latency one message at a time (no queueing)
        const load = await once(a.url, subUrl, qos, topic, messages, window)
        const paced = await once(a.url, subUrl, qos, `${topic}/paced`, latencyMessages, 1)
        const s = { rate: load.rate, p50: paced.p50, p99: paced.p99, lost: load.lost + paced.lost }
        log(
          `round ${round} ${key}: ${Math.round(s.rate)} msg/s, p50 ${s.p50.toFixed(2)} ms, p99 ${s.p99.toFixed(2)} ms, lost ${s.lost}`,
        )
        results.set(key, [...(results.get(key) ?? []), s])
      }
    }
  }
} finally {
  await Promise.all([a.kill(), b.kill()])
  await nats.close()
}

const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)]!
console.log(
  `\nmsg/s: ${messages} messages of 64 bytes, ${window} in flight; p50/p99: ${latencyMessages} messages one at a time; ${values.workers} worker(s) per node${values.shared ? '; a persistent share group member' : ''}; medians of ${rounds} rounds\n`,
)
console.log('| Scenario | msg/s | p50 ms | p99 ms | lost | cross / same (msg/s) |')
console.log('| --- | ---: | ---: | ---: | ---: | ---: |')
for (const qos of levels) {
  const same = results.get(`QoS ${qos} same node`)!
  for (const name of ['same node', 'cross node']) {
    const s = results.get(`QoS ${qos} ${name}`)!
    const ratio =
      name === 'cross node' ? (median(s.map((x) => x.rate)) / median(same.map((x) => x.rate))).toFixed(2) : ''
    console.log(
      `| QoS ${qos} ${name} | ${Math.round(median(s.map((x) => x.rate)))} | ${median(s.map((x) => x.p50)).toFixed(2)} | ${median(s.map((x) => x.p99)).toFixed(2)} | ${median(s.map((x) => x.lost))} | ${ratio} |`,
    )
  }
}
