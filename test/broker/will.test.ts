import assert from 'node:assert/strict'
import { test } from 'node:test'
import { RawClient } from '../helpers/raw-client.ts'
import { connectClient, connectOn, delay, sentinel, startBroker } from './helpers.ts'

const will = (payload: string, properties?: Record<string, unknown>) => ({
  topic: 'will/t',
  payload: Buffer.from(payload),
  qos: 1 as const,
  retain: false,
  ...(properties === undefined ? {} : { properties }),
})

for (const protocolVersion of [4, 5] as const) {
  const v = protocolVersion === 4 ? 'v3.1.1' : 'v5'
  test(`[3.1.1 MQTT-3.1.2-8] [5.0 MQTT-3.1.2-8] ${v}: will published on another worker when the connection drops; [3.1.1 MQTT-3.14.4-3] [5.0 MQTT-3.14.4-3] not after DISCONNECT`, async (t) => {
    const server = await startBroker(t)
    const watcher = await connectClient(t, server, { protocolVersion, clientId: 'watcher' })
    await watcher.client.subscribeAsync('will/#', { qos: 1 })
    const dropper = await connectOn(t, server, (w) => w !== watcher.worker, {
      protocolVersion,
      clientId: 'dropper',
      will: will('gone'),
    })
    dropper.client.stream.destroy()
    const [got] = await watcher.inbox.waitFor(1)
    assert.equal(String(got!.payload), 'gone')
    const polite = await connectClient(t, server, {
      protocolVersion,
      clientId: 'polite',
      will: will('should-not-appear'),
    })
    // a marker published on polite's worker after its DISCONNECT: a will would have come first
    const marker = await connectOn(t, server, (w) => w === polite.worker, { protocolVersion })
    await polite.client.endAsync()
    await sentinel(marker, watcher, 'will/sentinel')
    assert.deepEqual(watcher.inbox.payloads(), ['gone'])
  })
}

test('[3.1.1 MQTT-3.1.2-8] [5.0 MQTT-3.1.2-8] will published on keepalive timeout', async (t) => {
  const server = await startBroker(t)
  const watcher = await connectClient(t, server, { protocolVersion: 5, clientId: 'watcher' })
  await watcher.client.subscribeAsync('will/#', { qos: 1 })
  const started = Date.now()
  await RawClient.connect(t, server.port(), { clientId: 'silent', keepalive: 1, will: will('timed-out') })
  const [got] = await watcher.inbox.waitFor(1, 5000)
  assert.equal(String(got!.payload), 'timed-out')
  assert.ok(Date.now() - started >= 1000)
})

test('v5: DISCONNECT 0x04 "with will message" publishes the will', async (t) => {
  const server = await startBroker(t)
  const watcher = await connectClient(t, server, { protocolVersion: 5, clientId: 'watcher' })
  await watcher.client.subscribeAsync('will/#', { qos: 1 })
  const { client } = await RawClient.connect(t, server.port(), { clientId: 'w4', will: will('asked-for') })
  client.send({ cmd: 'disconnect', reasonCode: 0x04 })
  const [got] = await watcher.inbox.waitFor(1)
  assert.equal(String(got!.payload), 'asked-for')
})

test('[5.0 MQTT-3.1.3-9] v5 will delay: no will when the session resumes in time (on another worker), the will after the delay otherwise', async (t) => {
  const server = await startBroker(t)
  const watcher = await connectClient(t, server, { protocolVersion: 5, clientId: 'watcher' })
  await watcher.client.subscribeAsync('will/#', { qos: 1 })
  const persistent = { clean: false, properties: { sessionExpiryInterval: 60 } }
  const a = await connectClient(t, server, {
    protocolVersion: 5,
    clientId: 'delayed',
    ...persistent,
    will: will('resumed', { willDelayInterval: 2 }),
  })
  a.client.stream.destroy()
  await delay(300)
  const back = await connectOn(t, server, (w) => w !== a.worker, {
    protocolVersion: 5,
    clientId: 'delayed',
    ...persistent,
  })
  assert.equal(back.sessionPresent, true)
  // the rule is about time: wait out the 2 s will delay, then a marker from the worker that
  // holds the session now flushes anything already on its way
  await delay(2500)
  await sentinel(back, watcher, 'will/sentinel')
  assert.deepEqual(watcher.inbox.payloads(), [])

  const b = await connectClient(t, server, {
    protocolVersion: 5,
    clientId: 'late',
    ...persistent,
    will: will('after-delay', { willDelayInterval: 1 }),
  })
  const dropped = Date.now()
  b.client.stream.destroy()
  const [got] = await watcher.inbox.waitFor(1, 4000)
  assert.equal(String(got!.payload), 'after-delay')
  assert.ok(Date.now() - dropped >= 900)
})

test('v5: a will whose session ends before the delay is published at session end', async (t) => {
  const server = await startBroker(t)
  const watcher = await connectClient(t, server, { protocolVersion: 5, clientId: 'watcher' })
  await watcher.client.subscribeAsync('will/#', { qos: 1 })
  const c = await connectClient(t, server, {
    protocolVersion: 5,
    clientId: 'short',
    clean: false,
    properties: { sessionExpiryInterval: 1 },
    will: will('session-ended', { willDelayInterval: 30 }),
  })
  c.client.stream.destroy()
  const [got] = await watcher.inbox.waitFor(1, 4000)
  assert.equal(String(got!.payload), 'session-ended')
})

test('[3.1.1 MQTT-3.1.2-8] [5.0 MQTT-3.1.2-8] will published when the server closes the connection for a protocol error', async (t) => {
  const server = await startBroker(t)
  const watcher = await connectClient(t, server, { protocolVersion: 5, clientId: 'watcher' })
  await watcher.client.subscribeAsync('will/#', { qos: 1 })
  const { client } = await RawClient.connect(t, server.port(), {
    clientId: 'broken',
    will: will('malformed'),
  })
  // a second CONNECT is a protocol error [3.1.1 MQTT-3.1.0-2] [5.0 MQTT-3.1.0-2]
  client.send({
    cmd: 'connect',
    protocolId: 'MQTT',
    protocolVersion: 5,
    clean: true,
    keepalive: 0,
    clientId: 'broken',
  })
  await client.closed
  const [got] = await watcher.inbox.waitFor(1)
  assert.equal(String(got!.payload), 'malformed')
})
