/**
 * End-to-end broker throughput on a two-worker server: one mqtt.js
 * publisher, one mqtt.js subscriber, on the same worker or on different
 * workers (the message then crosses threads over the broker's mesh).
 *
 * Run: node bench/broker-e2e.bench.ts [messages=20000]
 * Prints received messages/s for QoS 0 and QoS 1 (publisher keeps 100
 * QoS 1 messages unacknowledged at most).
 */
import mqtt, { type MqttClient } from 'mqtt'
import { startServer } from '../src/main/server.ts'

const count = Number(process.argv[2] ?? 20_000)
const workerTopic = '$mqttd/test/worker'
const server = await startServer(
  {
    workers: 2,
    listeners: [{ name: 'tcp', type: 'tcp', host: '127.0.0.1', port: 0 }],
    handlers: ['./test/broker/fixtures/worker-id.ts'],
    broker: true,
    // The figures in docs/broker-design.md are memory-only; bench:persistence measures the store
    persistence: false,
    admin: { enabled: false },
    log: { level: 'silent' },
  },
  { baseDir: new URL('..', import.meta.url).pathname },
)
const url = `mqtt://127.0.0.1:${server.listeners[0]!.port}`
let ids = 0

async function client(): Promise<{ c: MqttClient; worker: number }> {
  const c = mqtt.connect(url, { protocolVersion: 5, clientId: `bench-${++ids}`, reconnectPeriod: 0 })
  const worker = await new Promise<number>((resolve) => {
    c.on('message', (topic, payload) => {
      if (topic === workerTopic) resolve(Number(String(payload)))
    })
  })
  return { c, worker }
}

async function measure(sameWorker: boolean, qos: 0 | 1): Promise<{ rate: number; lost: number }> {
  const sub = await client()
  const all: MqttClient[] = [sub.c]
  let pub = await client()
  all.push(pub.c)
  while ((pub.worker === sub.worker) !== sameWorker) {
    pub = await client()
    all.push(pub.c)
  }
  await sub.c.subscribeAsync('bench/#', { qos })
  let got = 0
  let last = 0
  const done = new Promise<void>((resolve) => {
    sub.c.on('message', (topic) => {
      if (topic === workerTopic) return
      last = performance.now()
      if (++got === count) resolve()
    })
    // QoS 0 may be dropped under a flood (slow-consumer cap): stop after 2 s without a message
    const idle = setInterval(() => {
      if (last > 0 && performance.now() - last > 2000) {
        clearInterval(idle)
        resolve()
      }
    }, 200)
    idle.unref()
  })
  const payload = Buffer.alloc(64, 7)
  const t0 = performance.now()
  let inflight = 0
  for (let i = 0; i < count; i++) {
    if (qos === 0) {
      pub.c.publish(`bench/${i % 10}`, payload, { qos })
      if (i % 200 === 199) await new Promise((r) => setImmediate(r))
    } else {
      inflight++
      pub.c.publish(`bench/${i % 10}`, payload, { qos }, () => inflight--)
      while (inflight >= 100) await new Promise((r) => setImmediate(r))
    }
  }
  await done
  const rate = (got / ((got === count ? performance.now() : last) - t0)) * 1000
  await Promise.all(all.map((c) => c.endAsync()))
  return { rate, lost: count - got }
}

for (const qos of [0, 1] as const) {
  for (const same of [true, false]) {
    const { rate, lost } = await measure(same, qos)
    const note = lost > 0 ? `  (${lost} dropped)` : ''
    console.log(
      `QoS ${qos} ${same ? 'same worker ' : 'cross-worker'}  ${Math.round(rate).toLocaleString('en').padStart(8)} msg/s${note}`,
    )
  }
}
await server.close()
