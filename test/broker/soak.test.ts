/**
 * Bounded soak: several publishers and subscribers spread over the workers,
 * mixed QoS, a fixed count of messages. No QoS 1/2 message may be lost,
 * QoS 2 arrives exactly once, and each publisher's QoS 1 stream keeps its
 * order [3.1.1 MQTT-4.6.0-6] [5.0 MQTT-4.6.0-6].
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { connectClient, startBroker, type TestClient } from './helpers.ts'

test('[3.1.1 MQTT-4.3.2-1] [3.1.1 MQTT-4.3.3-1] [3.1.1 MQTT-4.6.0-6] [5.0 MQTT-4.6.0-6] soak: 4 publishers × 250 messages (QoS 0/1/2) to 8 subscribers on 2 workers, no QoS 1/2 loss, QoS 2 exactly once', async (t) => {
  const server = await startBroker(t)
  const subscribers: TestClient[] = []
  for (let i = 0; i < 8; i++) {
    const sub = await connectClient(t, server, {
      protocolVersion: i % 2 === 0 ? 5 : 4,
      clientId: `soak-sub-${i}`,
    })
    await sub.client.subscribeAsync('soak/#', { qos: 2 })
    subscribers.push(sub)
  }
  assert.equal(new Set(subscribers.map((s) => s.worker)).size, 2, 'subscribers on both workers')
  const publishers: TestClient[] = []
  for (let i = 0; i < 4; i++)
    publishers.push(
      await connectClient(t, server, { protocolVersion: i % 2 === 0 ? 4 : 5, clientId: `soak-pub-${i}` }),
    )
  const perPublisher = 250
  const expected = new Map<number, number>() // qos → count per subscriber
  await Promise.all(
    publishers.map(async (pub, p) => {
      for (let i = 0; i < perPublisher; i++) {
        const qos = (i % 3) as 0 | 1 | 2
        // QoS 0 unawaited keeps pressure up; QoS 1/2 awaited per message keeps the count bounded
        const sent = pub.client.publishAsync(`soak/${p}/${qos}`, `${p}:${i}`, { qos })
        if (qos > 0) await sent
      }
    }),
  )
  for (let i = 0; i < perPublisher; i++) expected.set(i % 3, (expected.get(i % 3) ?? 0) + publishers.length)
  const reliable = expected.get(1)! + expected.get(2)!
  for (const sub of subscribers) {
    await sub.inbox.waitFor(reliable, 20_000, (p) => p.qos > 0)
  }
  for (const sub of subscribers) {
    const byQos = new Map<number, string[]>()
    for (const p of sub.inbox.packets) {
      const qos = Number(p.topic.split('/')[2])
      const list = byQos.get(qos) ?? []
      list.push(String(p.payload))
      byQos.set(qos, list)
    }
    const q2 = byQos.get(2) ?? []
    assert.equal(q2.length, expected.get(2), 'QoS 2: exactly the number published')
    assert.equal(new Set(q2).size, q2.length, 'QoS 2: no duplicate')
    const q1 = byQos.get(1) ?? []
    assert.equal(new Set(q1).size, expected.get(1), 'QoS 1: every message')
    for (let p = 0; p < publishers.length; p++) {
      const seq = q1.filter((m) => m.startsWith(`${p}:`)).map((m) => Number(m.split(':')[1]))
      assert.deepEqual(
        seq,
        [...seq].sort((a, b) => a - b),
        `QoS 1 order of publisher ${p}`,
      )
    }
    // QoS 0 may be dropped under pressure, never duplicated
    const q0 = byQos.get(0) ?? []
    assert.equal(new Set(q0).size, q0.length)
    assert.ok(q0.length <= expected.get(0)!)
  }
})
