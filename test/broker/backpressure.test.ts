import assert from 'node:assert/strict'
import type { TestContext } from 'node:test'
import { test } from 'node:test'
import type { IPublishPacket } from 'mqtt-packet'
import { MetricsAggregator } from '../../src/metrics/metrics-aggregator.ts'
import { parseExposition } from '../helpers/prom-text.ts'
import { RawClient } from '../helpers/raw-client.ts'
import { connectClient, connectOn, delay, startBroker } from './helpers.ts'

type Server = Awaited<ReturnType<typeof startBroker>>

async function dropped(server: Server): Promise<Map<string, number>> {
  const aggregator = new MetricsAggregator(server.metrics, server.control, () => server.workerThreadIds())
  const { body } = await aggregator.scrape()
  const out = new Map<string, number>()
  for (const s of parseExposition(body).samples) {
    if (s.name === 'mqttd_messages_dropped_total') out.set(s.labels.reason!, s.value)
  }
  return out
}

/**
 * A raw subscriber on `bp/#` at QoS 1 that acknowledges one PUBLISH every
 * `ackEveryMs` (oldest first), or never (`ackEveryMs` 0).
 */
async function slowSubscriber(
  t: TestContext,
  server: Server,
  ackEveryMs: number,
): Promise<{ client: RawClient; worker: number }> {
  const { client } = await RawClient.connect(t, server.port(), { clientId: 'slow', protocolVersion: 4 })
  const worker = await client.worker()
  client.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'bp/#', qos: 1 }] })
  await client.waitFor((p) => p.cmd === 'suback')
  if (ackEveryMs > 0) {
    let acked = 0
    const timer = setInterval(() => {
      const next = client.publishes()[acked]
      if (next === undefined) return
      acked++
      client.send({ cmd: 'puback', messageId: next.messageId! })
    }, ackEveryMs)
    t.after(() => clearInterval(timer))
  }
  return { client, worker }
}

/** Payloads `0..n-1` arrived once each, in order. */
function assertAllInOrder(got: IPublishPacket[], n: number): void {
  assert.deepEqual(
    got.map((p) => String(p.payload)),
    Array.from({ length: n }, (_, i) => String(i)),
  )
}

test('backpressure: a QoS 1 burst bigger than maxQueuedMessages toward a slow subscriber loses nothing; the publisher PUBACKs wait for the subscriber', async (t) => {
  const server = await startBroker(t, {
    workers: 1,
    broker: { maxInflightMessages: 5, maxQueuedMessages: 50, queueHighWater: 20, queueLowWater: 10 },
  })
  const { client: sub } = await slowSubscriber(t, server, 2)
  const pub = await connectClient(t, server, { clientId: 'pub', protocolVersion: 4 })
  const n = 200
  const receivedAtAck: number[] = []
  await Promise.all(
    Array.from({ length: n }, (_, i) =>
      pub.client.publishAsync('bp/x', String(i), { qos: 1 }).then(() => {
        receivedAtAck.push(sub.publishes().length)
      }),
    ),
  )
  // Slowed: when the publisher had its last PUBACK, the subscriber had all but what the
  // high-water mark, the in-flight window and the one held-back publish allow
  assert.ok(receivedAtAck.at(-1)! >= n - 20 - 5 - 1, `subscriber had ${receivedAtAck.at(-1)} of ${n}`)
  await sub.waitFor((p) => p.cmd === 'publish' && p.topic === 'bp/x', n, 10_000)
  assertAllInOrder(sub.publishes(), n)
  assert.equal((await dropped(server)).get('queue_full') ?? 0, 0)
})

test('backpressure across workers: a QoS 1 publisher on another worker than the slow subscriber is slowed and loses nothing', async (t) => {
  const server = await startBroker(t, {
    workers: 2,
    broker: { maxInflightMessages: 5, maxQueuedMessages: 100, queueHighWater: 20, queueLowWater: 10 },
  })
  const { client: sub, worker } = await slowSubscriber(t, server, 2)
  const pub = await connectOn(t, server, (w) => w !== worker, { clientId: 'pub', protocolVersion: 5 })
  const n = 300
  for (let i = 0; i < n; i++) await pub.client.publishAsync('bp/x', String(i), { qos: 1 })
  const receivedAtLastAck = sub.publishes().length
  // beyond the high-water mark and the window, the publishing worker's credit at the peer
  // (min(high water / 4, max(16, (maxQueued - high water) / 2)) = 5) and the one held publish
  assert.ok(receivedAtLastAck >= n - 20 - 5 - 5 - 1, `subscriber had ${receivedAtLastAck} of ${n}`)
  await sub.waitFor((p) => p.cmd === 'publish' && p.topic === 'bp/x', n, 10_000)
  assertAllInOrder(sub.publishes(), n)
  assert.equal((await dropped(server)).get('queue_full') ?? 0, 0)
})

test('backpressure: a subscriber that never acknowledges holds the publisher back at most publishWaitMs; beyond the queue cap QoS 1 is dropped and counted (queue_full)', async (t) => {
  const server = await startBroker(t, {
    workers: 1,
    broker: {
      maxInflightMessages: 5,
      maxQueuedMessages: 30,
      queueHighWater: 10,
      queueLowWater: 5,
      publishWaitMs: 300,
    },
  })
  const { client: sub } = await slowSubscriber(t, server, 0)
  const pub = await connectClient(t, server, { clientId: 'pub', protocolVersion: 5 })
  const n = 100
  for (let i = 0; i < n; i++) await pub.client.publishAsync('bp/x', String(i), { qos: 1 })
  // 5 in flight, 30 queued, the rest dropped
  await sub.waitFor((p) => p.cmd === 'publish' && p.topic === 'bp/x', 5)
  assert.equal((await dropped(server)).get('queue_full'), n - 5 - 30)
})

test('QoS 0 flood toward a subscriber that stops reading is dropped beyond the cap and counted (slow_consumer); the publisher is not held back', async (t) => {
  const server = await startBroker(t, { workers: 1, broker: { maxPendingWrites: 20, queueHighWater: 5 } })
  const { client: slow } = await RawClient.connect(t, server.port(), { clientId: 'slow' })
  slow.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'flood/#', qos: 1 }] })
  await slow.waitFor((p) => p.cmd === 'suback')
  slow.socket.pause()
  const pub = await connectClient(t, server, { clientId: 'pub', protocolVersion: 5 })
  const payload = Buffer.alloc(16 * 1024, 1)
  for (let i = 0; i < 600; i++) {
    pub.client.publish('flood/x', payload, { qos: 0 })
    if (i % 50 === 49) await delay(5)
  }
  // a QoS 1 publish on a topic nobody congested subscribes to is acknowledged behind the flood
  await pub.client.publishAsync('other/x', 'after', { qos: 1 })
  let counts = await dropped(server)
  for (let i = 0; i < 100 && (counts.get('slow_consumer') ?? 0) === 0; i++) {
    await delay(50)
    counts = await dropped(server)
  }
  assert.ok((counts.get('slow_consumer') ?? 0) > 0, `dropped: ${JSON.stringify([...counts])}`)
  assert.equal(counts.get('queue_full') ?? 0, 0)
})

test('backpressure: a client publishing to its own subscription is never held by its own queue (its PUBACKs wait behind its publish)', async (t) => {
  const server = await startBroker(t, {
    workers: 1,
    broker: {
      maxInflightMessages: 5,
      maxQueuedMessages: 1000,
      queueHighWater: 20,
      queueLowWater: 10,
      publishWaitMs: 4000,
    },
  })
  const self = await connectClient(t, server, { clientId: 'self', protocolVersion: 4 })
  await self.client.subscribeAsync('self/#', { qos: 1 })
  const n = 200
  const started = Date.now()
  await Promise.all(
    Array.from({ length: n }, (_, i) => self.client.publishAsync('self/x', String(i), { qos: 1 })),
  )
  await self.inbox.waitFor(n, 10_000)
  // held by its own queue it would stall for publishWaitMs (4 s) before going on
  assert.ok(Date.now() - started < 3000, `took ${Date.now() - started} ms`)
  assertAllInOrder(self.inbox.packets as unknown as IPublishPacket[], n)
})
