import assert from 'node:assert/strict'
import { test } from 'node:test'
import { MetricsAggregator } from '../../src/metrics/metrics-aggregator.ts'
import { parseExposition } from '../helpers/prom-text.ts'
import { RawClient } from '../helpers/raw-client.ts'
import { connectClient, delay, sentinel, startBroker } from './helpers.ts'

async function dropped(server: Awaited<ReturnType<typeof startBroker>>): Promise<Map<string, number>> {
  const aggregator = new MetricsAggregator(server.metrics, server.control, () => server.workerThreadIds())
  const { body } = await aggregator.scrape()
  const out = new Map<string, number>()
  for (const s of parseExposition(body).samples) {
    if (s.name === 'mqttd_messages_dropped_total') out.set(s.labels.reason!, s.value)
  }
  return out
}

test('slow consumer: a client that stops reading gets QoS 0 dropped beyond the cap, counted in mqttd_messages_dropped_total{reason="slow_consumer"}; others unaffected', async (t) => {
  const server = await startBroker(t, { broker: { maxPendingWrites: 20 } })
  const { client: slow } = await RawClient.connect(t, server.port(), { clientId: 'slow' })
  slow.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'flood/#', qos: 0 }] })
  await slow.waitFor((p) => p.cmd === 'suback')
  slow.socket.pause()
  const fast = await connectClient(t, server, { protocolVersion: 5, clientId: 'fast' })
  await fast.client.subscribeAsync('flood/#', { qos: 0 })
  const pub = await connectClient(t, server, { protocolVersion: 5, clientId: 'pub' })
  const payload = Buffer.alloc(16 * 1024, 1)
  const n = 600 // ~10 MB toward a reader that never reads
  // in batches of fewer than the cap, each taken by the reading subscriber before the next: it
  // never has 20 writes pending, however slowly this process (its reader too) gets the CPU
  const batch = 10
  for (let i = 0; i < n; i += batch) {
    for (let j = 0; j < batch; j++) pub.client.publish('flood/x', payload, { qos: 0 })
    await fast.inbox.waitFor(i + batch, 20_000)
  }
  const counts = await (async () => {
    for (let i = 0; i < 100; i++) {
      const c = await dropped(server)
      if ((c.get('slow_consumer') ?? 0) > 0) return c
      await delay(50)
    }
    return dropped(server)
  })()
  assert.ok((counts.get('slow_consumer') ?? 0) > 0, `dropped: ${JSON.stringify([...counts])}`)
  // the reading subscriber kept up and lost nothing to the slow one
  assert.equal(fast.inbox.packets.length, n)
})

test('[3.1.1 MQTT-3.1.2-5] offline queue is bounded: beyond maxQueuedMessages QoS 1 messages are dropped and counted (queue_full), the first ones kept', async (t) => {
  const server = await startBroker(t, { broker: { maxQueuedMessages: 5 } })
  const persistent = {
    protocolVersion: 5 as const,
    clientId: 'offline',
    clean: false,
    properties: { sessionExpiryInterval: 60 },
  }
  const sub = await connectClient(t, server, persistent)
  await sub.client.subscribeAsync('q/#', { qos: 1 })
  await sub.client.endAsync()
  const pub = await connectClient(t, server, { protocolVersion: 5, clientId: 'pub' })
  for (let i = 0; i < 12; i++) await pub.client.publishAsync('q/x', String(i), { qos: 1 })
  // PUBACK comes once the publisher's worker routed a message; one for a session on another worker may
  // still be on its way there. Reconnecting before the last of them arrived would let it in (the
  // session is online again and its queue empty), as it did once in CI: the drops say they all arrived.
  let counts = await dropped(server)
  for (let i = 0; i < 50 && (counts.get('queue_full') ?? 0) < 7; i++) {
    await delay(50)
    counts = await dropped(server)
  }
  assert.equal(counts.get('queue_full'), 7)
  const back = await connectClient(t, server, persistent)
  await back.inbox.waitFor(5)
  // a marker behind the resumed queue: a 6th queued message would have come first
  await sentinel(pub, back, 'q/marker')
  assert.deepEqual(back.inbox.payloads(), ['0', '1', '2', '3', '4'])
  assert.equal((await dropped(server)).get('queue_full'), 7)
})
