/**
 * A persistent subscriber hops between workers while a publisher keeps
 * publishing: its session (subscriptions, queue, in-flight) moves with it,
 * and messages routed during each hand-over reach it exactly once (a second
 * copy may only be a redelivery, marked DUP [3.1.1 MQTT-3.3.1-1] [5.0 MQTT-3.3.1-1]).
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { Store } from 'mqtt'
import type { IPublishPacket } from 'mqtt-packet'
import { connectClient, connectOn, delay, startBroker, type TestClient } from './helpers.ts'

/** A store that outlives each client: mqtt.js closes its stores on end(). */
class KeptStore extends Store {
  override close(cb: (err?: Error) => void): void {
    cb()
  }
}

for (const qos of [1, 2] as const) {
  test(`[3.1.1 MQTT-3.1.2-4] [5.0 MQTT-3.1.2-5] [3.1.1 MQTT-4.4.0-1] [5.0 MQTT-4.4.0-1] QoS ${qos}: session hops between workers 4 times under a continuous publisher, no loss, no non-DUP duplicate`, async (t) => {
    // An offline session keeps maxQueuedMessages (default 1000) and drops the rest as
    // queue_full, as configured; a hop takes 300-400 ms at about 3,500 messages/s, so the
    // default would measure the queue limit, not the hand-over
    const server = await startBroker(t, { broker: { maxQueuedMessages: 100_000 } })
    // mqtt.js emits a QoS 2 message on PUBREL: the incarnations share its store of received-not-released messages
    const incomingStore = new KeptStore()
    const persistent = {
      protocolVersion: 5 as const,
      clientId: 'hopper',
      clean: false,
      properties: { sessionExpiryInterval: 120 },
      incomingStore,
    }
    const received: IPublishPacket[] = []
    const collect = (c: TestClient) => {
      // packets that arrived before the helper handed the client over
      received.push(...c.inbox.packets)
      c.client.on('message', (topic, _payload, packet) => {
        if (topic.startsWith('hop/')) received.push(packet)
      })
    }
    let sub = await connectClient(t, server, persistent)
    collect(sub)
    await sub.client.subscribeAsync('hop/#', { qos })
    const pub = await connectClient(t, server, { protocolVersion: 5, clientId: 'hop-pub' })
    let running = true
    let published = 0
    const publishing = (async () => {
      while (running) {
        await pub.client.publishAsync(`hop/${published % 3}`, String(published), { qos })
        published++
        if (published % 10 === 0) await delay(1)
      }
    })()
    const workers = [sub.worker]
    for (let hop = 0; hop < 4; hop++) {
      await delay(100)
      // half the hops drop the connection abruptly, half disconnect politely
      if (hop % 2 === 0) sub.client.stream.destroy()
      else await sub.client.endAsync()
      const last = sub.worker
      sub = await connectOn(t, server, (w) => w !== last, persistent)
      assert.equal(sub.sessionPresent, true)
      collect(sub)
      workers.push(sub.worker)
    }
    await delay(100)
    running = false
    await publishing
    const deadline = Date.now() + 10_000
    while (new Set(received.map((p) => String(p.payload))).size < published && Date.now() < deadline)
      await delay(20)
    const counts = new Map<string, IPublishPacket[]>()
    for (const p of received) {
      const key = String(p.payload)
      counts.set(key, [...(counts.get(key) ?? []), p])
    }
    const missing = Array.from({ length: published }, (_, i) => String(i)).filter((k) => !counts.has(k))
    assert.deepEqual(missing, [], `lost ${missing.length} of ${published}`)
    for (const [key, copies] of counts) {
      const fresh = copies.filter((p) => !p.dup)
      assert.ok(fresh.length <= 1, `message ${key} delivered ${fresh.length} times without DUP`)
    }
    assert.ok(new Set(workers).size === 2, `hopped between workers: ${workers.join(' → ')}`)
    assert.ok(published > 50, `published ${published}`)
  })
}
