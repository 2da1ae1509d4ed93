import assert from 'node:assert/strict'
import { test } from 'node:test'
import { connectClient, connectOn, sentinel, startBroker } from './helpers.ts'

for (const protocolVersion of [4, 5] as const) {
  const v = protocolVersion === 4 ? 'v3.1.1' : 'v5'
  test(`[3.1.1 MQTT-3.3.1-5] [3.1.1 MQTT-3.3.1-6] [3.1.1 MQTT-3.3.1-8] [5.0 MQTT-3.3.1-5] [5.0 MQTT-3.3.1-6] ${v}: retained message set on one worker reaches a subscriber on another with RETAIN 1, replaced, then deleted by an empty payload`, async (t) => {
    const server = await startBroker(t)
    const pub = await connectClient(t, server, { protocolVersion, clientId: 'pub' })
    await pub.client.publishAsync('r/b', 'other', { qos: 0, retain: true })
    await pub.client.publishAsync('r/a', 'first', { qos: 1, retain: true })
    // PUBACK of a retained message comes once every worker stored it
    await pub.client.publishAsync('r/a', 'second', { qos: 1, retain: true })
    const sub = await connectOn(t, server, (w) => w !== pub.worker, { protocolVersion, clientId: 'sub' })
    await sub.client.subscribeAsync('r/+', { qos: 1 })
    const got = await sub.inbox.waitFor(2)
    assert.deepEqual(got.map((p) => [p.topic, String(p.payload), p.retain, p.qos]).sort(), [
      ['r/a', 'second', true, 1],
      ['r/b', 'other', true, 0],
    ])
    // a live message matching an established subscription carries RETAIN 0 [3.1.1 MQTT-3.3.1-9]
    await pub.client.publishAsync('r/a', 'live-retained', { qos: 1, retain: true })
    const [, , live] = await sub.inbox.waitFor(3)
    assert.equal(live!.retain, false)
    // [3.1.1 MQTT-3.3.1-10] [3.1.1 MQTT-3.3.1-11] [5.0 MQTT-3.3.1-6] [5.0 MQTT-3.3.1-7] an empty retained payload deletes (and is forwarded as normal)
    await pub.client.publishAsync('r/a', '', { qos: 1, retain: true })
    await sub.inbox.waitFor(4)
    const late = await connectOn(t, server, (w) => w !== pub.worker, { protocolVersion, clientId: 'late' })
    await late.client.subscribeAsync('r/#', { qos: 1 })
    const after = await late.inbox.waitFor(1)
    // retained messages are written right after SUBACK, before any message published later
    await sentinel(pub, late, 'r/marker')
    assert.deepEqual(
      after.map((p) => [p.topic, String(p.payload)]),
      [['r/b', 'other']],
    )
    assert.equal(late.inbox.packets.length, 1)
  })
}

test('[5.0 MQTT-3.3.1-9] [5.0 MQTT-3.3.1-10] [5.0 MQTT-3.3.1-11] v5 retain handling 0/1/2 and [5.0 MQTT-3.3.1-12] [5.0 MQTT-3.3.1-13] retain as published', async (t) => {
  const server = await startBroker(t)
  const pub = await connectClient(t, server, { protocolVersion: 5, clientId: 'pub' })
  await pub.client.publishAsync('h/x', 'kept', { qos: 1, retain: true })
  const sub = await connectOn(t, server, (w) => w !== pub.worker, { protocolVersion: 5, clientId: 'sub' })
  await sub.client.subscribeAsync('h/x', { qos: 1, rh: 2 })
  await sub.client.subscribeAsync('h/+', { qos: 1, rh: 1 })
  await sub.inbox.waitFor(1)
  // rh 1 again on the existing subscription: nothing; rh 0 on a new one: sent
  await sub.client.subscribeAsync('h/+', { qos: 1, rh: 1 })
  await sub.client.subscribeAsync('h/#', { qos: 1, rh: 0 })
  await sub.inbox.waitFor(2)
  await sentinel(pub, sub, 'h/x')
  assert.equal(sub.inbox.packets.length, 2)
  assert.ok(sub.inbox.packets.every((p) => p.retain && p.topic === 'h/x'))

  const rap = await connectClient(t, server, { protocolVersion: 5, clientId: 'rap' })
  await rap.client.subscribeAsync('p/with', { qos: 1, rap: true })
  await rap.client.subscribeAsync('p/without', { qos: 1, rap: false })
  await pub.client.publishAsync('p/with', 'a', { qos: 1, retain: true })
  await pub.client.publishAsync('p/without', 'b', { qos: 1, retain: true })
  const got = await rap.inbox.waitFor(2)
  assert.deepEqual(got.map((p) => [p.topic, p.retain]).sort(), [
    ['p/with', true],
    ['p/without', false],
  ])
})

test('retained messages are not sent to a new shared subscription', async (t) => {
  const server = await startBroker(t)
  const pub = await connectClient(t, server, { protocolVersion: 5, clientId: 'pub' })
  await pub.client.publishAsync('s/x', 'kept', { qos: 1, retain: true })
  const sub = await connectClient(t, server, { protocolVersion: 5, clientId: 'sub' })
  await sub.client.subscribeAsync('$share/g/s/x', { qos: 1 })
  // a retained message would be written right after SUBACK, before this live one
  await sentinel(pub, sub, 's/x')
  assert.equal(sub.inbox.packets.length, 0)
})
