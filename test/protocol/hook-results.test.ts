import assert from 'node:assert/strict'
import { test } from 'node:test'
import { collectEvents } from '../helpers/events.ts'
import { connectPacket, rawClient } from '../helpers/raw-client.ts'
import { startTestServer } from '../helpers/server.ts'

const scripted = new URL('../fixtures/handlers/scripted.ts', import.meta.url).pathname

async function start(t: import('node:test').TestContext) {
  const events = collectEvents(t)
  const server = await startTestServer(t, {
    workers: 1,
    handlers: [{ module: scripted, options: { channel: events.channel } }],
  })
  return { events, server }
}

test('v5 enhanced authentication: AUTH 0x18 challenges until the handler accepts, then CONNACK 0x00', async (t) => {
  const { events, server } = await start(t)
  const client = await rawClient(t, server.port(), 5)
  client.send(connectPacket(5, { properties: { authenticationMethod: 'TEST' } }))
  const challenge = await client.next('auth')
  assert.equal(challenge?.reasonCode, 0x18)
  assert.equal(
    String((challenge?.properties as Record<string, Buffer> | undefined)?.authenticationData),
    'challenge',
  )
  client.send({
    cmd: 'auth',
    reasonCode: 0x18,
    properties: { authenticationMethod: 'TEST', authenticationData: Buffer.from('more') },
  })
  const again = await client.next('auth')
  assert.equal(String((again?.properties as Record<string, Buffer> | undefined)?.authenticationData), 'again')
  client.send({
    cmd: 'auth',
    reasonCode: 0x18,
    properties: { authenticationMethod: 'TEST', authenticationData: Buffer.from('good') },
  })
  assert.equal((await client.next('connack'))?.reasonCode, 0)
  assert.equal((await events.waitFor((e) => e.event === 'connected')).authenticated, true)

  // re-authentication [5.0 MQTT-4.12.1-1]: success answers AUTH 0x00, failure disconnects with the code
  client.send({
    cmd: 'auth',
    reasonCode: 0x19,
    properties: { authenticationMethod: 'TEST', authenticationData: Buffer.from('good') },
  })
  assert.equal((await client.next('auth'))?.reasonCode, 0)
  client.send({
    cmd: 'auth',
    reasonCode: 0x19,
    properties: { authenticationMethod: 'TEST', authenticationData: Buffer.from('bad') },
  })
  assert.equal((await client.next('disconnect'))?.reasonCode, 0x87)
  await client.closed
})

test('v5 enhanced authentication refused: CONNACK with the handler code; other packets during it are a protocol error', async (t) => {
  const { server } = await start(t)
  const refused = await rawClient(t, server.port(), 5)
  refused.send(connectPacket(5, { properties: { authenticationMethod: 'TEST' } }))
  await refused.next('auth')
  refused.send({
    cmd: 'auth',
    reasonCode: 0x18,
    properties: { authenticationMethod: 'TEST', authenticationData: Buffer.from('bad') },
  })
  assert.equal((await refused.next('connack'))?.reasonCode, 0x87)
  await refused.closed
  const eager = await rawClient(t, server.port(), 5)
  eager.send(connectPacket(5, { properties: { authenticationMethod: 'TEST' } }))
  await eager.next('auth')
  eager.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'a', qos: 0 }] })
  assert.equal((await eager.next('connack'))?.reasonCode, 0x82)
})

test('SUBACK carries what onSubscribe set per filter; 3.1.1 gets 0x80 for any refusal [3.1.1 MQTT-3.9.3-2]', async (t) => {
  const { server } = await start(t)
  const subscriptions = [
    { topic: 'ok/#', qos: 2 },
    { topic: 'deny/x', qos: 1 },
    { topic: 'max1/y', qos: 2 },
  ]
  const v5 = await rawClient(t, server.port(), 5)
  v5.send(connectPacket(5))
  await v5.next('connack')
  v5.send({ cmd: 'subscribe', messageId: 9, subscriptions })
  const suback5 = await v5.next('suback')
  assert.equal(suback5?.messageId, 9)
  assert.deepEqual(suback5?.granted, [2, 0x87, 1])
  const v4 = await rawClient(t, server.port(), 4)
  v4.send(connectPacket(4))
  await v4.next('connack')
  v4.send({ cmd: 'subscribe', messageId: 9, subscriptions })
  assert.deepEqual((await v4.next('suback'))?.granted, [2, 0x80, 1])
})

test('v5 UNSUBACK and PUBACK/PUBREC carry the hook reason codes and strings', async (t) => {
  const { server } = await start(t)
  const client = await rawClient(t, server.port(), 5)
  client.send(connectPacket(5))
  await client.next('connack')
  client.send({ cmd: 'unsubscribe', messageId: 3, unsubscriptions: ['a', 'none/b'] })
  assert.deepEqual((await client.next('unsuback'))?.granted, [0, 0x11])
  client.send({ cmd: 'publish', topic: 'nosub', payload: 'x', qos: 1, messageId: 4 })
  assert.equal((await client.next('puback'))?.reasonCode, 0x10)
  client.send({ cmd: 'publish', topic: 'refuse', payload: 'x', qos: 1, messageId: 5 })
  const refused = await client.next('puback')
  assert.equal(refused?.reasonCode, 0x87)
  assert.equal((refused?.properties as Record<string, unknown>)?.reasonString, 'nope')
  client.send({ cmd: 'publish', topic: 'refuse', payload: 'x', qos: 2, messageId: 6 })
  assert.equal((await client.next('pubrec'))?.reasonCode, 0x87)
  // a refused QoS 2 message ends its flow: the id is free, PUBREL for it is unknown
  client.send({ cmd: 'pubrel', messageId: 6 })
  assert.equal((await client.next('pubcomp'))?.reasonCode, 0x92)
})

test('the client PUBACK for a handler-sent QoS 1 PUBLISH reaches onAck', async (t) => {
  const { events, server } = await start(t)
  const client = await rawClient(t, server.port(), 4)
  client.send(connectPacket(4))
  await client.next('connack')
  client.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'ack/me', qos: 1 }] })
  await client.next('suback')
  const publish = await client.next('publish')
  assert.equal(publish?.messageId, 42)
  client.send({ cmd: 'puback', messageId: 42 })
  const ack = await events.waitFor((e) => e.event === 'ack')
  assert.deepEqual({ cmd: ack.cmd, messageId: ack.messageId }, { cmd: 'puback', messageId: 42 })
})

test('v5 CONNECT with an authentication method and no handler implementing onAuth: CONNACK 0x8C', async (t) => {
  const server = await startTestServer(t, { workers: 1 })
  const client = await rawClient(t, server.port(), 5)
  client.send(connectPacket(5, { properties: { authenticationMethod: 'SCRAM-SHA-1' } }))
  assert.equal((await client.next('connack'))?.reasonCode, 0x8c)
  await client.closed
})
