import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { IPublishPacket, ISubackPacket } from 'mqtt-packet'
import { RawClient } from '../helpers/raw-client.ts'
import { connectClient, connectOn, delay, sentinel, startBroker } from './helpers.ts'

test('[3.1.1 MQTT-3.3.5-1] v3.1.1 overlapping subscriptions: one copy at the highest granted QoS', async (t) => {
  const server = await startBroker(t)
  const sub = await connectClient(t, server, { protocolVersion: 4, clientId: 'sub' })
  await sub.client.subscribeAsync({ 'o/+': { qos: 0 }, 'o/#': { qos: 2 }, 'o/x': { qos: 1 } })
  const pub = await connectOn(t, server, (w) => w !== sub.worker, { protocolVersion: 4, clientId: 'pub' })
  await pub.client.publishAsync('o/x', 'once', { qos: 2 })
  await sub.inbox.waitFor(1)
  await sentinel(pub, sub, 'o/x')
  assert.deepEqual(
    sub.inbox.packets.map((p) => [String(p.payload), p.qos]),
    [['once', 2]],
  )
})

test('[5.0 MQTT-3.3.4-3] v5 overlapping subscriptions: one copy carrying every subscription identifier', async (t) => {
  const server = await startBroker(t)
  const sub = await connectClient(t, server, { protocolVersion: 5, clientId: 'sub' })
  await sub.client.subscribeAsync('i/+', { qos: 1, properties: { subscriptionIdentifier: 7 } })
  await sub.client.subscribeAsync('i/#', { qos: 0, properties: { subscriptionIdentifier: 9 } })
  await sub.client.subscribeAsync('i/x', { qos: 0 })
  const pub = await connectOn(t, server, (w) => w !== sub.worker, { protocolVersion: 5, clientId: 'pub' })
  await pub.client.publishAsync('i/x', 'ids', { qos: 1 })
  const [got] = await sub.inbox.waitFor(1)
  await sentinel(pub, sub, 'i/x')
  assert.equal(sub.inbox.packets.length, 1)
  assert.equal(got!.qos, 1)
  const ids = got!.properties?.subscriptionIdentifier
  assert.deepEqual((Array.isArray(ids) ? ids : [ids]).sort(), [7, 9])
})

test('[5.0 MQTT-3.8.3-3] v5 no local: a client does not get its own messages on a no-local subscription', async (t) => {
  const server = await startBroker(t)
  const c = await connectClient(t, server, { protocolVersion: 5, clientId: 'self' })
  await c.client.subscribeAsync('nl/a', { qos: 1, nl: true })
  await c.client.subscribeAsync('nl/b', { qos: 1, nl: false })
  await c.client.publishAsync('nl/a', 'own-a', { qos: 1 })
  await c.client.publishAsync('nl/b', 'own-b', { qos: 1 })
  await c.inbox.waitFor(1)
  await sentinel(c, c, 'nl/b')
  assert.deepEqual(c.inbox.payloads(), ['own-b'])
})

test('[5.0 §4.8.2] shared subscription across workers: each message reaches exactly one member of the group', async (t) => {
  const server = await startBroker(t)
  const m1 = await connectClient(t, server, { protocolVersion: 5, clientId: 'm1' })
  const m2 = await connectOn(t, server, (w) => w !== m1.worker, { protocolVersion: 5, clientId: 'm2' })
  const plain = await connectClient(t, server, { protocolVersion: 4, clientId: 'plain' })
  await m1.client.subscribeAsync('$share/g/jobs/+', { qos: 1 })
  await m2.client.subscribeAsync('$share/g/jobs/+', { qos: 1 })
  await plain.client.subscribeAsync('jobs/#', { qos: 1 })
  await m1.client.subscribeAsync('mark/m1', { qos: 1 })
  await m2.client.subscribeAsync('mark/m2', { qos: 1 })
  const pub = await connectClient(t, server, { protocolVersion: 5, clientId: 'pub' })
  const n = 40
  for (let i = 0; i < n; i++) await pub.client.publishAsync(`jobs/${i}`, String(i), { qos: 1 })
  await plain.inbox.waitFor(n)
  const deadline = Date.now() + 5000
  while (m1.inbox.packets.length + m2.inbox.packets.length < n && Date.now() < deadline) await delay(20)
  // a marker from the publisher to each member, behind the shares: a duplicate would come first
  await sentinel(pub, m1, 'mark/m1')
  await sentinel(pub, m2, 'mark/m2')
  const all = [...m1.inbox.payloads(), ...m2.inbox.payloads()].map(Number).sort((a, b) => a - b)
  assert.deepEqual(
    all,
    Array.from({ length: n }, (_, i) => i),
  )
  assert.ok(m1.inbox.packets.length > 0 && m2.inbox.packets.length > 0, 'both members got a share')
})

test('[3.1.1 MQTT-4.7.1-2] [5.0 MQTT-4.7.1-1] [5.0 MQTT-4.8.2-2] invalid filters: v5 SUBACK 0x8F, v3.1.1 0x80; [5.0 MQTT-3.8.3-4] no local on a shared subscription closes', async (t) => {
  const server = await startBroker(t)
  const { client: v5 } = await RawClient.connect(t, server.port(), { clientId: 'v5' })
  v5.send({
    cmd: 'subscribe',
    messageId: 1,
    subscriptions: [
      { topic: 'a/#/b', qos: 1 },
      { topic: 'ok/+', qos: 1 },
      { topic: '$share/g+/x', qos: 0 },
    ],
  })
  const [ack5] = (await v5.waitFor((p) => p.cmd === 'suback')) as ISubackPacket[]
  assert.deepEqual(ack5!.granted, [0x8f, 1, 0x8f])
  const { client: v4 } = await RawClient.connect(t, server.port(), { clientId: 'v4', protocolVersion: 4 })
  v4.send({
    cmd: 'subscribe',
    messageId: 1,
    subscriptions: [
      { topic: 'a+', qos: 1 },
      { topic: 'ok', qos: 2 },
    ],
  })
  const [ack4] = (await v4.waitFor((p) => p.cmd === 'suback')) as ISubackPacket[]
  assert.deepEqual(ack4!.granted, [0x80, 2])
  v5.send({ cmd: 'subscribe', messageId: 2, subscriptions: [{ topic: '$share/g/x', qos: 1, nl: true }] })
  await v5.closed
})

test('[3.1.1 MQTT-3.3.2-2] [5.0 MQTT-3.3.2-2] PUBLISH to a topic name with wildcards: v5 DISCONNECT 0x90, nothing delivered', async (t) => {
  const server = await startBroker(t)
  const sub = await connectClient(t, server, { protocolVersion: 5, clientId: 'sub' })
  await sub.client.subscribeAsync('#', { qos: 1 })
  const { client } = await RawClient.connect(t, server.port(), { clientId: 'bad' })
  client.send({
    cmd: 'publish',
    topic: 'a/+',
    payload: Buffer.from('x'),
    qos: 1,
    messageId: 1,
    retain: false,
    dup: false,
  })
  const [disconnect] = await client.waitFor((p) => p.cmd === 'disconnect')
  assert.equal((disconnect as { reasonCode: number }).reasonCode, 0x90)
  // the refused PUBLISH was dropped before the DISCONNECT was written; a marker shows the route works
  const marker = await connectClient(t, server, { protocolVersion: 5, clientId: 'marker' })
  await sentinel(marker, sub, 'a/b')
  assert.equal(sub.inbox.packets.length, 0)
})

test('v5 properties pass through: response topic, correlation data, user properties, content type, payload format; [5.0 MQTT-3.3.2-6] remaining expiry', async (t) => {
  const server = await startBroker(t)
  const sub = await connectClient(t, server, { protocolVersion: 5, clientId: 'sub' })
  await sub.client.subscribeAsync('req/#', { qos: 1 })
  const pub = await connectOn(t, server, (w) => w !== sub.worker, { protocolVersion: 5, clientId: 'pub' })
  const properties = {
    responseTopic: 'resp/1',
    correlationData: Buffer.from([1, 2, 3]),
    userProperties: { k: 'v', multi: ['a', 'b'] },
    contentType: 'text/plain',
    payloadFormatIndicator: true,
    messageExpiryInterval: 60,
  }
  await pub.client.publishAsync('req/x', 'ask', { qos: 1, properties })
  const [got] = await sub.inbox.waitFor(1)
  const p = got!.properties!
  assert.equal(p.responseTopic, 'resp/1')
  assert.deepEqual([...p.correlationData!], [1, 2, 3])
  assert.deepEqual({ ...p.userProperties }, { k: 'v', multi: ['a', 'b'] })
  assert.equal(p.contentType, 'text/plain')
  assert.equal(p.payloadFormatIndicator, true)
  assert.ok(p.messageExpiryInterval! <= 60 && p.messageExpiryInterval! >= 59)
})

test('[5.0 MQTT-3.3.2-5] v5 message expiry: an expired message waiting in an offline session is not delivered', async (t) => {
  const server = await startBroker(t)
  const persistent = { clean: false, properties: { sessionExpiryInterval: 60 } }
  const sub = await connectClient(t, server, { protocolVersion: 5, clientId: 'sub', ...persistent })
  await sub.client.subscribeAsync('x/#', { qos: 1 })
  await sub.client.endAsync()
  const pub = await connectClient(t, server, { protocolVersion: 5, clientId: 'pub' })
  await pub.client.publishAsync('x/short', 'expires', { qos: 1, properties: { messageExpiryInterval: 1 } })
  await pub.client.publishAsync('x/long', 'stays', { qos: 1, properties: { messageExpiryInterval: 100 } })
  await delay(1200)
  const back = await connectClient(t, server, { protocolVersion: 5, clientId: 'sub', ...persistent })
  const [got] = await back.inbox.waitFor(1)
  // a marker behind the session's queue: the expired message would have come before it
  await sentinel(pub, back, 'x/marker')
  assert.deepEqual(back.inbox.payloads(), ['stays'])
  assert.ok(got!.properties!.messageExpiryInterval! < 100)
})

test('[5.0 MQTT-3.1.2-26] [5.0 MQTT-3.1.2-27] v5 topic aliases toward a client that allows them', async (t) => {
  const server = await startBroker(t)
  const { client: sub } = await RawClient.connect(t, server.port(), {
    clientId: 'alias',
    properties: { topicAliasMaximum: 1 },
  })
  sub.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'al/#', qos: 0 }] })
  await sub.waitFor((p) => p.cmd === 'suback')
  const pub = await connectClient(t, server, { protocolVersion: 5, clientId: 'pub' })
  for (const topic of ['al/one', 'al/one', 'al/two', 'al/one'])
    await pub.client.publishAsync(topic, topic, { qos: 0 })
  await sub.waitFor((p) => p.cmd === 'publish' && p.topic !== '$mqttd/test/worker', 4)
  assert.deepEqual(
    sub.publishes().map((p) => [p.topic, p.properties?.topicAlias, String(p.payload)]),
    [
      ['al/one', 1, 'al/one'],
      ['', 1, 'al/one'],
      ['al/two', undefined, 'al/two'],
      ['', 1, 'al/one'],
    ],
  )
})

test('[5.0 MQTT-3.3.4-9] v5 receive maximum: never more unacknowledged QoS 1 messages in flight than the client allows', async (t) => {
  const server = await startBroker(t)
  const { client: sub } = await RawClient.connect(t, server.port(), {
    clientId: 'slow',
    properties: { receiveMaximum: 2 },
  })
  sub.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'rm/#', qos: 1 }] })
  await sub.waitFor((p) => p.cmd === 'suback')
  const pub = await connectClient(t, server, { protocolVersion: 5, clientId: 'pub' })
  for (let i = 0; i < 5; i++) await pub.client.publishAsync('rm/x', String(i), { qos: 1 })
  // a QoS 0 marker (not counted by Receive Maximum, sent at once): a third QoS 1 message sent
  // without waiting for a PUBACK would have come before it
  await pub.client.publishAsync('rm/marker', 'marker', { qos: 0 })
  await sub.waitFor((p) => p.cmd === 'publish' && p.topic === 'rm/marker')
  const data = () => sub.publishes().filter((p) => p.topic === 'rm/x')
  const isData = (p: { cmd: string; topic?: string }) => p.cmd === 'publish' && p.topic === 'rm/x'
  assert.equal(data().length, 2)
  for (let i = 0; i < 5; i++) {
    const unacked = data()[i]!
    sub.send({ cmd: 'puback', messageId: unacked.messageId! })
    if (i < 4) await sub.waitFor(isData, Math.min(i + 3, 5))
  }
  assert.deepEqual(
    data().map((p) => String(p.payload)),
    ['0', '1', '2', '3', '4'],
  )
})

test('[5.0 MQTT-3.1.2-24] [5.0 MQTT-3.1.2-25] v5 maximum packet size: a larger message is not sent to that client, the next one is', async (t) => {
  const server = await startBroker(t)
  const { client: sub } = await RawClient.connect(t, server.port(), {
    clientId: 'small',
    properties: { maximumPacketSize: 128 },
  })
  sub.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'mp/#', qos: 1 }] })
  await sub.waitFor((p) => p.cmd === 'suback')
  const pub = await connectClient(t, server, { protocolVersion: 5, clientId: 'pub' })
  await pub.client.publishAsync('mp/x', 'x'.repeat(500), { qos: 1 })
  await pub.client.publishAsync('mp/x', 'fits', { qos: 1 })
  // 'fits' went the same way after the large one: it is the marker (the large one would come first)
  await sub.waitFor((p) => p.cmd === 'publish' && p.topic !== '$mqttd/test/worker')
  assert.deepEqual(
    sub.publishes().map((p: IPublishPacket) => String(p.payload)),
    ['fits'],
  )
})

test('authorization through the chain: refusals by a handler before the broker stand (SUBSCRIBE 0x87, PUBLISH 0x87, CONNECT 0x87)', async (t) => {
  const server = await startBroker(t, {
    handlers: [
      {
        module: './broker/fixtures/deny.ts',
        options: { publish: ['secret'], subscribe: ['private/#'], connect: 'banned' },
      },
    ],
  })
  const { client: raw } = await RawClient.connect(t, server.port(), { clientId: 'raw' })
  raw.send({
    cmd: 'subscribe',
    messageId: 1,
    subscriptions: [
      { topic: 'private/#', qos: 1 },
      { topic: 'other', qos: 1 },
    ],
  })
  const [suback] = (await raw.waitFor((p) => p.cmd === 'suback')) as ISubackPacket[]
  assert.deepEqual(suback!.granted, [0x87, 1])
  const sub = await connectClient(t, server, { protocolVersion: 5, clientId: 'sub' })
  await assert.rejects(sub.client.subscribeAsync('private/#', { qos: 1 }))
  await sub.client.subscribeAsync('#', { qos: 1 })
  const pub = await connectClient(t, server, { protocolVersion: 5, clientId: 'pub' })
  await pub.client.publishAsync('private/x', 'only-via-hash', { qos: 1 })
  await assert.rejects(pub.client.publishAsync('secret', 'no', { qos: 1 }))
  await sub.inbox.waitFor(1)
  await sentinel(pub, sub, 'marker/x')
  assert.deepEqual(sub.inbox.payloads(), ['only-via-hash'])
  await assert.rejects(connectClient(t, server, { protocolVersion: 5, clientId: 'banned' }))
})

test('broker options: maxQos 1 caps SUBACK and announces Maximum QoS in the v5 CONNACK', async (t) => {
  const server = await startBroker(t, { broker: { maxQos: 1 } })
  const c = await connectClient(t, server, { protocolVersion: 5, clientId: 'capped' })
  assert.equal(c.connack.properties?.maximumQoS, 1)
  const granted = await c.client.subscribeAsync('q/#', { qos: 2 })
  assert.equal(granted[0]!.qos, 1)
})

test('[5.0 MQTT-3.1.2-29] reason strings only for clients that did not opt out (Request Problem Information 0)', async (t) => {
  const server = await startBroker(t, { workers: 1, broker: { maxSessionsPerWorker: 1 } })
  await connectClient(t, server, { protocolVersion: 5, clientId: 'first' })
  const { connack: told } = await RawClient.connect(t, server.port(), { clientId: 'second' })
  assert.equal(told.reasonCode, 0x97)
  assert.equal(typeof told.properties?.reasonString, 'string')
  const { connack: quiet } = await RawClient.connect(t, server.port(), {
    clientId: 'third',
    properties: { requestProblemInformation: false },
  })
  assert.equal(quiet.reasonCode, 0x97)
  assert.equal(quiet.properties?.reasonString, undefined)
})

test('[5.0 MQTT-3.2.2-21] server keep alive: with limits.maxKeepaliveSeconds the v5 CONNACK caps the client keep alive (and the broker still serves it)', async (t) => {
  const server = await startBroker(t, { config: { limits: { maxKeepaliveSeconds: 30 } } })
  const c = await connectClient(t, server, { protocolVersion: 5, clientId: 'ka', keepalive: 600 })
  assert.equal(c.connack.properties?.serverKeepAlive, 30)
  await c.client.subscribeAsync('ka/#', { qos: 1 })
  await c.client.publishAsync('ka/x', 'still-served', { qos: 1 })
  await c.inbox.waitFor(1)
})

test('v5 assigned client identifier: an empty client id gets one in CONNACK and a working session under it', async (t) => {
  const server = await startBroker(t)
  const { client, connack } = await RawClient.connect(t, server.port(), { clientId: '' })
  const assigned = connack.properties?.assignedClientIdentifier
  assert.equal(typeof assigned, 'string')
  assert.ok(assigned!.length > 0)
  client.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'as/#', qos: 1 }] })
  await client.waitFor((p) => p.cmd === 'suback')
  const pub = await connectClient(t, server, { protocolVersion: 5, clientId: 'pub' })
  await pub.client.publishAsync('as/1', 'to-assigned', { qos: 1 })
  await client.waitFor((p) => p.cmd === 'publish' && p.topic === 'as/1')
})
