import assert from 'node:assert/strict'
import { test } from 'node:test'
import mqttPacket from 'mqtt-packet'
import { collectEvents } from '../helpers/events.ts'
import { connectPacket, rawClient } from '../helpers/raw-client.ts'
import { startTestServer } from '../helpers/server.ts'

const fixture = (name: string) => new URL(`../fixtures/handlers/${name}`, import.meta.url).pathname

test('[3.1.1 MQTT-3.1.0-1] [5.0 MQTT-3.1.0-1] a connection that sends no CONNECT within connectTimeoutMs is closed', async (t) => {
  const server = await startTestServer(t, { workers: 1, config: { limits: { connectTimeoutMs: 300 } } })
  const client = await rawClient(t, server.port())
  const started = Date.now()
  await client.closed
  assert.ok(Date.now() - started >= 250)
  assert.deepEqual(client.received, [])
})

test('[3.1.1 MQTT-3.1.0-1] [5.0 MQTT-3.1.0-1] a first packet other than CONNECT closes the connection', async (t) => {
  const server = await startTestServer(t, { workers: 1 })
  const client = await rawClient(t, server.port())
  client.send({ cmd: 'pingreq' })
  await client.closed
  assert.deepEqual(client.received, [])
})

test('[3.1.1 MQTT-3.1.0-2] [5.0 MQTT-3.1.0-2] a second CONNECT is a protocol violation: v5 DISCONNECT 0x82, v3.1.1 closed', async (t) => {
  const server = await startTestServer(t, { workers: 1 })
  const v5 = await rawClient(t, server.port(), 5)
  v5.send(connectPacket(5))
  assert.equal((await v5.next('connack'))?.reasonCode, 0)
  v5.send(connectPacket(5))
  assert.equal((await v5.next('disconnect'))?.reasonCode, 0x82)
  await v5.closed
  const v4 = await rawClient(t, server.port(), 4)
  v4.send(connectPacket(4))
  assert.equal((await v4.next('connack'))?.returnCode, 0)
  v4.send(connectPacket(4))
  await v4.closed
  assert.deepEqual(
    v4.received.map((p) => p.cmd),
    ['connack'],
  )
})

test('[3.1.1 MQTT-3.1.2-24] [5.0 MQTT-3.1.2-22] keepalive is enforced at 1.5x: v5 DISCONNECT 0x8D; PINGREQ answered and keeps it alive', async (t) => {
  const server = await startTestServer(t, { workers: 1 })
  const client = await rawClient(t, server.port(), 5)
  client.send(connectPacket(5, { keepalive: 1 }))
  await client.next('connack')
  const started = Date.now()
  client.send({ cmd: 'pingreq' })
  assert.ok(await client.next('pingresp'))
  await new Promise((r) => setTimeout(r, 1000))
  client.send({ cmd: 'pingreq' })
  assert.ok(await client.next('pingresp'), 'still connected after 1 s thanks to the PINGREQ')
  const disconnect = await client.next('disconnect', 4000)
  assert.equal(disconnect?.reasonCode, 0x8d)
  assert.ok(Date.now() - started >= 2400, 'not before 1.5 x keepalive after the last packet')
  await client.closed
})

test('v5 CONNACK announces the server limits; an empty client id gets an assigned one [3.1.1 MQTT-3.1.3-6] [5.0 MQTT-3.1.3-6] [5.0 MQTT-3.2.2-16]', async (t) => {
  const server = await startTestServer(t, {
    workers: 1,
    config: { limits: { maxPacketSize: 4096, receiveMaximum: 7, topicAliasMaximum: 3 } },
  })
  const client = await rawClient(t, server.port(), 5)
  client.send(connectPacket(5, { clientId: '' }))
  const connack = await client.next('connack')
  assert.equal(connack?.reasonCode, 0)
  const props = connack?.properties as Record<string, unknown>
  assert.equal(props.maximumPacketSize, 4096)
  assert.equal(props.receiveMaximum, 7)
  assert.equal(props.topicAliasMaximum, 3)
  assert.match(String(props.assignedClientIdentifier), /^mqttd-/)
})

test('[3.1.1 MQTT-3.1.3-8] 3.1.1: an empty client id with CleanSession=0 gets CONNACK 0x02', async (t) => {
  const server = await startTestServer(t, { workers: 1 })
  const client = await rawClient(t, server.port(), 4)
  // mqtt-packet refuses to generate it, so the bytes: CONNECT, "MQTT" level 4, flags 0 (CleanSession=0), keepalive 0, client id ""
  client.write(
    Buffer.from([0x10, 0x0c, 0x00, 0x04, 0x4d, 0x51, 0x54, 0x54, 0x04, 0x00, 0x00, 0x00, 0x00, 0x00]),
  )
  assert.equal((await client.next('connack'))?.returnCode, 2)
  await client.closed
  const clean = await rawClient(t, server.port(), 4)
  clean.send(connectPacket(4, { clientId: '', clean: true }))
  assert.equal(
    (await clean.next('connack'))?.returnCode,
    0,
    'CleanSession=1 gets an id assigned by the server',
  )
})

test('an oversize packet: v5 DISCONNECT 0x95 before the body is buffered; v3.1.1 closed', async (t) => {
  const server = await startTestServer(t, { workers: 1, config: { limits: { maxPacketSize: 1024 } } })
  const v5 = await rawClient(t, server.port(), 5)
  v5.send(connectPacket(5))
  await v5.next('connack')
  v5.send({ cmd: 'publish', topic: 'big', payload: Buffer.alloc(2000), qos: 0 })
  assert.equal((await v5.next('disconnect'))?.reasonCode, 0x95)
  await v5.closed
  const v4 = await rawClient(t, server.port(), 4)
  v4.send(connectPacket(4))
  await v4.next('connack')
  // only the header announcing 200 kB: the server must refuse without waiting for the body
  v4.write(Buffer.from([0x30, 0xc0, 0x9a, 0x0c]))
  await v4.closed
})

test('garbage bytes: closed before CONNECT; a connected v5 client gets DISCONNECT 0x81', async (t) => {
  const server = await startTestServer(t, { workers: 1 })
  const early = await rawClient(t, server.port())
  early.write(Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'))
  await early.closed
  assert.deepEqual(early.received, [])
  const v5 = await rawClient(t, server.port(), 5)
  v5.send(connectPacket(5))
  await v5.next('connack')
  v5.write(Buffer.from([0x00, 0x00])) // packet type 0 is reserved
  assert.equal((await v5.next('disconnect'))?.reasonCode, 0x81)
  await v5.closed
})

test('v5 topic aliases are resolved before onPublish; an alias above the maximum gets DISCONNECT 0x94', async (t) => {
  const events = collectEvents(t)
  const server = await startTestServer(t, {
    workers: 1,
    handlers: [{ module: fixture('recorder.ts'), options: { channel: events.channel } }],
    config: { limits: { topicAliasMaximum: 2 } },
  })
  const client = await rawClient(t, server.port(), 5)
  client.send(connectPacket(5))
  await client.next('connack')
  client.send({
    cmd: 'publish',
    topic: 'a/long/topic',
    payload: 'one',
    qos: 0,
    properties: { topicAlias: 2 },
  })
  client.send({ cmd: 'publish', topic: '', payload: 'two', qos: 0, properties: { topicAlias: 2 } })
  const published = await events.waitForCount((e) => e.event === 'publish', 2)
  assert.deepEqual(
    published.map((e) => [e.topic, e.payload]),
    [
      ['a/long/topic', 'one'],
      ['a/long/topic', 'two'],
    ],
  )
  client.send({ cmd: 'publish', topic: 'x', payload: 'three', qos: 0, properties: { topicAlias: 3 } })
  assert.equal((await client.next('disconnect'))?.reasonCode, 0x94)
})

test('QoS 2 inbound is exactly once: a re-sent PUBLISH before PUBREL gets PUBREC but no second onPublish; unknown PUBREL gets PUBCOMP 0x92', async (t) => {
  const events = collectEvents(t)
  const server = await startTestServer(t, {
    workers: 1,
    handlers: [{ module: fixture('recorder.ts'), options: { channel: events.channel } }],
  })
  const client = await rawClient(t, server.port(), 5)
  client.send(connectPacket(5))
  await client.next('connack')
  client.send({ cmd: 'publish', topic: 'q2', payload: 'once', qos: 2, messageId: 7 })
  assert.equal((await client.next('pubrec'))?.messageId, 7)
  client.send({ cmd: 'publish', topic: 'q2', payload: 'once', qos: 2, messageId: 7, dup: true })
  assert.equal((await client.next('pubrec'))?.messageId, 7)
  client.send({ cmd: 'pubrel', messageId: 7 })
  const pubcomp = await client.next('pubcomp')
  assert.equal(pubcomp?.messageId, 7)
  assert.equal(pubcomp?.reasonCode ?? 0, 0)
  client.send({ cmd: 'pubrel', messageId: 8 })
  assert.equal((await client.next('pubcomp'))?.reasonCode, 0x92)
  // after release the id may be reused for a new message
  client.send({ cmd: 'publish', topic: 'q2', payload: 'again', qos: 2, messageId: 7 })
  await client.next('pubrec')
  const published = await events.waitForCount((e) => e.event === 'publish', 2)
  assert.deepEqual(
    published.map((e) => e.payload),
    ['once', 'again'],
  )
})

test('[5.0 MQTT-3.3.4-9] more unacknowledged QoS 2 PUBLISH packets than Receive Maximum: DISCONNECT 0x93', async (t) => {
  const server = await startTestServer(t, { workers: 1, config: { limits: { receiveMaximum: 2 } } })
  const client = await rawClient(t, server.port(), 5)
  client.send(connectPacket(5))
  await client.next('connack')
  // one chunk: all three arrive before the first is processed; the first two are within the window
  const burst = [1, 2, 3].map((messageId) =>
    mqttPacket.generate(
      { cmd: 'publish', topic: 't', payload: 'x', qos: 2, messageId, retain: false, dup: false },
      { protocolVersion: 5 },
    ),
  )
  client.write(Buffer.concat(burst))
  assert.equal((await client.next('disconnect'))?.reasonCode, 0x93)
  assert.equal(client.received.filter((p) => p.cmd === 'pubrec').length, 2)
})

test('[5.0 MQTT-3.1.2-24] ctx.send never sends a packet larger than the client Maximum Packet Size', async (t) => {
  const events = collectEvents(t)
  const server = await startTestServer(t, {
    workers: 1,
    handlers: [{ module: fixture('sender.ts'), options: { channel: events.channel } }],
  })
  const client = await rawClient(t, server.port(), 5)
  client.send(connectPacket(5, { properties: { maximumPacketSize: 1000 } }))
  await client.next('connack')
  client.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'out/#', qos: 0 }] })
  await client.next('suback')
  const sent = await events.waitFor((e) => e.event === 'sent')
  assert.equal(sent.small, true)
  assert.equal(sent.large, false)
  const publish = await client.next('publish')
  assert.equal(publish?.topic, 'out/small')
  client.send({ cmd: 'pingreq' })
  await client.next('pingresp')
  assert.equal(client.received.filter((p) => p.cmd === 'publish').length, 1)
})

test('a refusal from onConnect: v5 CONNACK with the reason code and string, v3.1.1 with the mapped return code', async (t) => {
  const server = await startTestServer(t, { workers: 1, handlers: [fixture('faults.ts')] })
  const v5 = await rawClient(t, server.port(), 5)
  v5.send(connectPacket(5, { username: 'bad-password' }))
  const connack = await v5.next('connack')
  assert.equal(connack?.reasonCode, 0x86)
  assert.equal((connack?.properties as Record<string, unknown>)?.reasonString, 'wrong password')
  await v5.closed
  const v4 = await rawClient(t, server.port(), 4)
  v4.send(connectPacket(4, { username: 'bad-password' }))
  assert.equal((await v4.next('connack'))?.returnCode, 4)
  await v4.closed
})

test('[5.0 MQTT-3.2.2-21] limits.maxKeepaliveSeconds: a v5 client asking for more gets Server Keep Alive and is held to it', async (t) => {
  const server = await startTestServer(t, { workers: 1, config: { limits: { maxKeepaliveSeconds: 1 } } })
  const client = await rawClient(t, server.port(), 5)
  client.send(connectPacket(5, { keepalive: 600 }))
  const connack = await client.next('connack')
  assert.equal((connack?.properties as Record<string, unknown>)?.serverKeepAlive, 1)
  const started = Date.now()
  assert.equal((await client.next('disconnect', 4000))?.reasonCode, 0x8d)
  assert.ok(Date.now() - started >= 1400)
})

test('MQTT 3.1 (MQIsdp): connect, publish QoS 1, ping', async (t) => {
  const server = await startTestServer(t, { workers: 1 })
  const client = await rawClient(t, server.port(), 3)
  client.send(connectPacket(3, { clientId: 'legacy-3.1' }))
  assert.equal((await client.next('connack'))?.returnCode, 0)
  client.send({ cmd: 'publish', topic: 'a', payload: 'b', qos: 1, messageId: 3 })
  assert.equal((await client.next('puback'))?.messageId, 3)
  client.send({ cmd: 'pingreq' })
  assert.ok(await client.next('pingresp'))
})
