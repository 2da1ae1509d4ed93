import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { IDisconnectPacket, IPublishPacket } from 'mqtt-packet'
import { RawClient } from '../helpers/raw-client.ts'
import { connectClient, connectOn, delay, placeNext, sentinel, startBroker } from './helpers.ts'

for (const protocolVersion of [4, 5] as const) {
  const v = protocolVersion === 4 ? 'v3.1.1' : 'v5'
  const persistent =
    protocolVersion === 5 ? { clean: false, properties: { sessionExpiryInterval: 300 } } : { clean: false }

  test(`[3.1.1 MQTT-3.1.2-4] [3.1.1 MQTT-3.1.2-5] [5.0 MQTT-3.1.2-5] [3.1.1 MQTT-3.2.2-2] [5.0 MQTT-3.2.2-2] ${v}: persistent session resumes on a different worker with its subscriptions and offline QoS 1/2 queue`, async (t) => {
    const server = await startBroker(t)
    const first = await connectClient(t, server, { protocolVersion, clientId: 'p1', ...persistent })
    assert.equal(first.sessionPresent, false)
    await first.client.subscribeAsync('s/#', { qos: 2 })
    await first.client.endAsync()
    const pub = await connectClient(t, server, { protocolVersion, clientId: 'pub' })
    for (let i = 0; i < 5; i++) await pub.client.publishAsync('s/x', `m${i}`, { qos: ((i % 2) + 1) as 1 | 2 })
    await pub.client.publishAsync('s/x', 'qos0-not-queued', { qos: 0 })
    const again = await connectOn(t, server, (w) => w !== first.worker, {
      protocolVersion,
      clientId: 'p1',
      ...persistent,
    })
    assert.notEqual(again.worker, first.worker)
    assert.equal(again.sessionPresent, true)
    const got = await again.inbox.waitFor(5)
    // mqtt.js emits a QoS 2 message on PUBREL, so compare without order
    assert.deepEqual(got.map((p) => [String(p.payload), p.qos]).sort(), [
      ['m0', 1],
      ['m1', 2],
      ['m2', 1],
      ['m3', 2],
      ['m4', 1],
    ])
    // the subscription moved too: live messages arrive on the new worker
    await pub.client.publishAsync('s/y', 'live', { qos: 1 })
    await again.inbox.waitFor(6)
    // a marker behind them: a duplicate would have come first
    await sentinel(pub, again, 's/y')
    assert.deepEqual(again.inbox.payloads().sort(), ['live', 'm0', 'm1', 'm2', 'm3', 'm4'])
  })

  test(`[3.1.1 MQTT-3.1.2-6] [5.0 MQTT-3.1.2-4] [3.1.1 MQTT-3.2.2-1] [5.0 MQTT-3.2.2-1] ${v}: clean start discards the session on another worker`, async (t) => {
    const server = await startBroker(t)
    const first = await connectClient(t, server, { protocolVersion, clientId: 'c1', ...persistent })
    await first.client.subscribeAsync('c/#', { qos: 1 })
    await first.client.endAsync()
    const again = await connectOn(t, server, (w) => w !== first.worker, {
      protocolVersion,
      clientId: 'c1',
      clean: true,
    })
    assert.equal(again.sessionPresent, false)
    const pub = await connectClient(t, server, { protocolVersion, clientId: 'pub' })
    await pub.client.publishAsync('c/x', 'nobody', { qos: 1 })
    // a kept c/# subscription would deliver c/x before the marker published after it
    await again.client.subscribeAsync('c-marker', { qos: 1 })
    await sentinel(pub, again, 'c-marker')
    assert.deepEqual(again.inbox.payloads(), [])
  })
}

test('[5.0 MQTT-3.1.4-3] v5: takeover across workers: the old connection gets DISCONNECT 0x8E, the session moves to the new one', async (t) => {
  const server = await startBroker(t)
  const old = await connectClient(t, server, {
    protocolVersion: 5,
    clientId: 'dup',
    clean: false,
    properties: { sessionExpiryInterval: 60 },
  })
  await old.client.subscribeAsync('d/#', { qos: 1 })
  const disconnected = new Promise<number | undefined>((resolve) =>
    old.client.on('disconnect', (p: IDisconnectPacket) => resolve(p.reasonCode)),
  )
  const fresh = await connectOn(t, server, (w) => w !== old.worker, {
    protocolVersion: 5,
    clientId: 'dup',
    clean: false,
    properties: { sessionExpiryInterval: 60 },
  })
  assert.equal(await disconnected, 0x8e)
  assert.equal(fresh.sessionPresent, true)
  const pub = await connectClient(t, server, { protocolVersion: 5, clientId: 'pub' })
  await pub.client.publishAsync('d/1', 'after-takeover', { qos: 1 })
  await fresh.inbox.waitFor(1)
  assert.deepEqual(fresh.inbox.payloads(), ['after-takeover'])
  assert.deepEqual(old.inbox.payloads(), [])
})

test('[3.1.1 MQTT-3.1.4-2] v3.1.1: takeover on the same worker closes the old connection', async (t) => {
  const server = await startBroker(t, { workers: 1 })
  const old = await connectClient(t, server, { protocolVersion: 4, clientId: 'same', clean: false })
  const closed = new Promise<void>((resolve) => old.client.on('close', () => resolve()))
  const fresh = await connectClient(t, server, { protocolVersion: 4, clientId: 'same', clean: false })
  await closed
  assert.equal(fresh.sessionPresent, true)
})

test('[3.1.1 MQTT-4.4.0-1] [5.0 MQTT-4.4.0-1] [3.1.1 MQTT-3.3.1-1] [5.0 MQTT-3.3.1-1] unacknowledged QoS 1/2 redelivered with DUP and the same ids after reconnecting on another worker; QoS 2 after PUBREC gets PUBREL only', async (t) => {
  const server = await startBroker(t)
  const port = server.port()
  const persistent = { clean: false, properties: { sessionExpiryInterval: 60 } }
  const { client: a } = await RawClient.connect(t, port, { clientId: 'raw', ...persistent })
  const workerA = await a.worker()
  a.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'r/#', qos: 2 }] })
  await a.waitFor((p) => p.cmd === 'suback')
  const pub = await connectClient(t, server, { protocolVersion: 5, clientId: 'pub' })
  await pub.client.publishAsync('r/1', 'one', { qos: 1 })
  await pub.client.publishAsync('r/2', 'two', { qos: 2 })
  await pub.client.publishAsync('r/3', 'three', { qos: 2 })
  const first = (await a.waitFor(
    (p) => p.cmd === 'publish' && p.topic !== '$mqttd/test/worker',
    3,
  )) as IPublishPacket[]
  // acknowledge nothing but the PUBREC of "two"
  const two = first.find((p) => String(p.payload) === 'two')!
  a.send({ cmd: 'pubrec', messageId: two.messageId! })
  await a.waitFor((p) => p.cmd === 'pubrel')
  a.destroy()
  await a.closed

  const release = await placeNext(t, server, (w) => w !== workerA)
  const { client: b } = await RawClient.connect(t, port, { clientId: 'raw', ...persistent })
  release()
  assert.notEqual(await b.worker(), workerA)
  const resent = (await b.waitFor(
    (p) => p.cmd === 'publish' && p.topic !== '$mqttd/test/worker',
    2,
  )) as IPublishPacket[]
  const [pubrel] = await b.waitFor((p) => p.cmd === 'pubrel')
  assert.deepEqual(
    resent.map((p) => [String(p.payload), p.dup, p.messageId]).sort(),
    first
      .filter((p) => String(p.payload) !== 'two')
      .map((p) => [String(p.payload), true, p.messageId])
      .sort(),
  )
  assert.equal((pubrel as { messageId: number }).messageId, two.messageId)
  // a QoS 0 marker, sent after the resends: a resent "two" would have come before it
  await pub.client.publishAsync('r/marker', 'marker', { qos: 0 })
  await b.waitFor((p) => p.cmd === 'publish' && p.topic === 'r/marker')
  // "two" itself is never sent again [3.1.1 MQTT-4.3.3-1]
  assert.equal(b.publishes().filter((p) => String(p.payload) === 'two').length, 0)
})

test('[5.0 MQTT-3.1.2-23] v5: a session with expiry 1 s is gone after it expires; session present 0', async (t) => {
  const server = await startBroker(t)
  const first = await connectClient(t, server, {
    protocolVersion: 5,
    clientId: 'exp',
    clean: false,
    properties: { sessionExpiryInterval: 1 },
  })
  await first.client.subscribeAsync('e/#', { qos: 1 })
  await first.client.endAsync()
  await delay(1500)
  const again = await connectClient(t, server, {
    protocolVersion: 5,
    clientId: 'exp',
    clean: false,
    properties: { sessionExpiryInterval: 1 },
  })
  assert.equal(again.sessionPresent, false)
})
