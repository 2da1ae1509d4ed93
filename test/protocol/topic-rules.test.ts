// The stateless topic rules are the framework's (src/protocol), not the broker's: they hold with
// `broker: false`, before any handler sees the packet. A recorder handler reports what it saw; a
// marker sent after the refused packet proves it saw nothing else.
import assert from 'node:assert/strict'
import { type TestContext, test } from 'node:test'
import { collectEvents, type EventLog } from '../helpers/events.ts'
import { connectPacket, rawClient } from '../helpers/raw-client.ts'
import { startTestServer, type TestServer } from '../helpers/server.ts'

const recorder = new URL('../fixtures/handlers/recorder.ts', import.meta.url).pathname

async function start(t: TestContext): Promise<{ events: EventLog; server: TestServer }> {
  const events = collectEvents(t)
  const server = await startTestServer(t, {
    workers: 1,
    broker: false,
    handlers: [{ module: recorder, options: { channel: events.channel } }],
  })
  return { events, server }
}

/** Publishes a marker from a fresh client and waits until the handler saw it. */
async function marker(t: TestContext, server: TestServer, events: EventLog, topic: string): Promise<void> {
  const client = await rawClient(t, server.port(), 5)
  client.send(connectPacket(5))
  await client.next('connack')
  client.send({ cmd: 'publish', topic, payload: 'm', qos: 1, messageId: 1 })
  await client.next('puback')
  await events.waitFor((e) => e.event === 'publish' && e.topic === topic)
}

test('[3.1.1 MQTT-3.3.2-2] [5.0 MQTT-3.3.2-2] broker: false, PUBLISH to a topic name with wildcards: v5 DISCONNECT 0x90, 3.1.1 closed, no handler sees it', async (t) => {
  const { events, server } = await start(t)
  const v5 = await rawClient(t, server.port(), 5)
  v5.send(connectPacket(5, { clientId: 'wild-v5' }))
  await v5.next('connack')
  v5.send({ cmd: 'publish', topic: 'a/+', payload: 'x', qos: 0 })
  const disconnect = await v5.next('disconnect')
  assert.equal(disconnect?.reasonCode, 0x90)
  assert.equal((disconnect?.properties as { reasonString?: string })?.reasonString, 'Topic name invalid')
  await v5.closed

  const v4 = await rawClient(t, server.port(), 4)
  v4.send(connectPacket(4, { clientId: 'wild-v4' }))
  await v4.next('connack')
  v4.send({ cmd: 'publish', topic: 'a/#', payload: 'x', qos: 1, messageId: 3 })
  await v4.closed
  assert.deepEqual(
    v4.received.map((p) => p.cmd),
    ['connack'],
  )
  const closes = await events.waitForCount(
    (e) => e.event === 'close' && (e.clientId === 'wild-v5' || e.clientId === 'wild-v4'),
    2,
  )
  for (const close of closes) {
    assert.equal(close.reason, 'protocol-error')
    assert.match(String(close.error), /invalid topic name/)
  }

  await marker(t, server, events, 'marker/publish')
  assert.deepEqual(
    events.events.filter((e) => e.event === 'publish').map((e) => e.topic),
    ['marker/publish'],
  )
})

test('[3.1.1 MQTT-4.7.1-2] [3.1.1 MQTT-4.7.1-3] [5.0 MQTT-4.7.1-2] [5.0 MQTT-4.8.2-1] broker: false, invalid SUBSCRIBE filters: v5 SUBACK 0x8F, 3.1.1 0x80; valid ones granted', async (t) => {
  const { server } = await start(t)
  const filters = ['a/#/b', 'ok/+', '$share//x', 'c+/d']
  const v5 = await rawClient(t, server.port(), 5)
  v5.send(connectPacket(5))
  await v5.next('connack')
  v5.send({ cmd: 'subscribe', messageId: 1, subscriptions: filters.map((topic) => ({ topic, qos: 1 })) })
  assert.deepEqual((await v5.next('suback'))?.granted, [0x8f, 1, 0x8f, 0x8f])

  const v4 = await rawClient(t, server.port(), 4)
  v4.send(connectPacket(4))
  await v4.next('connack')
  v4.send({ cmd: 'subscribe', messageId: 1, subscriptions: filters.map((topic) => ({ topic, qos: 1 })) })
  assert.deepEqual((await v4.next('suback'))?.granted, [0x80, 1, 0x80, 0x80])
})

test('[5.0 MQTT-3.8.3-4] broker: false, No Local on a shared subscription: DISCONNECT 0x82', async (t) => {
  const { events, server } = await start(t)
  const client = await rawClient(t, server.port(), 5)
  client.send(connectPacket(5, { clientId: 'nl-shared' }))
  await client.next('connack')
  client.send({
    cmd: 'subscribe',
    messageId: 1,
    subscriptions: [{ topic: '$share/g/a', qos: 0, nl: true, rap: false, rh: 0 }],
  })
  const disconnect = await client.next('disconnect')
  assert.equal(disconnect?.reasonCode, 0x82)
  await client.closed
  assert.deepEqual(
    client.received.map((p) => p.cmd),
    ['connack', 'disconnect'],
  )
  const close = await events.waitFor((e) => e.event === 'close' && e.clientId === 'nl-shared')
  assert.equal(close.reason, 'protocol-error')
})

test('[5.0 MQTT-4.7.1-2] broker: false, UNSUBSCRIBE of an invalid filter: v5 UNSUBACK 0x8F, valid ones 0x00', async (t) => {
  const { server } = await start(t)
  const client = await rawClient(t, server.port(), 5)
  client.send(connectPacket(5))
  await client.next('connack')
  client.send({ cmd: 'unsubscribe', messageId: 2, unsubscriptions: ['a/#/b', 'ok/+'] })
  assert.deepEqual((await client.next('unsuback'))?.granted, [0x8f, 0x00])
})

test('[3.1.1 MQTT-3.1.3-11] [5.0 MQTT-3.1.3-11] broker: false, a Will Topic with wildcards: v5 CONNACK 0x90, 3.1.1 closed, no handler sees the CONNECT', async (t) => {
  const { events, server } = await start(t)
  const will = { topic: 'will/+', payload: Buffer.from('w'), qos: 0, retain: false }
  const v5 = await rawClient(t, server.port(), 5)
  v5.send(connectPacket(5, { clientId: 'will-v5', will }))
  const connack = await v5.next('connack')
  assert.equal(connack?.reasonCode, 0x90)
  assert.equal((connack?.properties as { reasonString?: string })?.reasonString, 'Will topic invalid')
  await v5.closed

  const v4 = await rawClient(t, server.port(), 4)
  v4.send(connectPacket(4, { clientId: 'will-v4', will }))
  await v4.closed
  assert.deepEqual(v4.received, [])

  // the marker's CONNECT reaches the handler; the refused ones never did
  await marker(t, server, events, 'marker/will')
  const connected = events.events.filter((e) => e.event === 'connect').map((e) => e.clientId)
  assert.equal(connected.includes('will-v5') || connected.includes('will-v4'), false)
  assert.equal(connected.length, 1)
})
