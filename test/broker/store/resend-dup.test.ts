/**
 * A stored session taken up again (after a kill -9 restart, or by a survivor
 * of its worker's death) sends its stored QoS 1 messages again: DUP 1 only on
 * those that were sent before (in flight, with their packet ids), DUP 0 on
 * those that were only queued: the first attempt to send them
 * [3.1.1 MQTT-3.3.1-3] [5.0 MQTT-3.3.1-3] [3.1.1 MQTT-3.3.1-1] [5.0 MQTT-3.3.1-1].
 * The subscriber is a raw client: it withholds its PUBACKs (mqtt.js does not).
 */
import assert from 'node:assert/strict'
import { type TestContext, test } from 'node:test'
import mqtt from 'mqtt'
import type { IPublishPacket } from 'mqtt-packet'
import { RawClient } from '../../helpers/raw-client.ts'
import { type DurableServer, durableDir, kill9, startDurable, workerOf } from './durable-server.ts'

const faults = new URL('../../fixtures/handlers/faults.ts', import.meta.url).pathname
const CLIENT = 'dup-sub'
const payloads = ['m-0', 'm-1', 'm-2', 'm-3', 'm-4', 'm-5']

function portOf(server: DurableServer): number {
  return Number(new URL(server.url).port)
}

function isMessage(p: { cmd: string; topic?: string }): boolean {
  return p.cmd === 'publish' && p.topic === 'd/q'
}

/**
 * The subscriber (Receive Maximum 2, acknowledging nothing) gets m-0 and m-1 in flight; m-2..m-5
 * wait in its queue. Returns the packet ids m-0 and m-1 went out with.
 */
async function holdSome(t: TestContext, server: DurableServer): Promise<{ sub: RawClient; ids: number[] }> {
  const { client: sub } = await RawClient.connect(t, portOf(server), {
    clientId: CLIENT,
    clean: false,
    properties: { sessionExpiryInterval: 3600, receiveMaximum: 2 },
  })
  sub.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'd/q', qos: 1 }] })
  await sub.waitFor((p) => p.cmd === 'suback')
  const pub = await mqtt.connectAsync(server.url, { reconnectPeriod: 0 })
  for (const p of payloads) await pub.publishAsync('d/q', p, { qos: 1 })
  await pub.endAsync()
  const sent = (await sub.waitFor(isMessage, 2)) as IPublishPacket[]
  assert.deepEqual(
    sent.map((p) => [String(p.payload), p.dup]),
    [
      ['m-0', false],
      ['m-1', false],
    ],
  )
  // A QoS 1 publish of its own on the same worker: its PUBACK follows the commit that stored the packet ids
  sub.send({ cmd: 'publish', topic: 'barrier/x', payload: Buffer.from('x'), qos: 1, messageId: 9 })
  await sub.waitFor((p) => p.cmd === 'puback')
  return { sub, ids: sent.map((p) => p.messageId!) }
}

/** The client resumes: everything comes (acknowledged as it comes), in order. */
async function resumeAndCheck(t: TestContext, server: DurableServer, ids: number[]): Promise<void> {
  const { client, connack } = await RawClient.connect(t, portOf(server), {
    clientId: CLIENT,
    clean: false,
    properties: { sessionExpiryInterval: 3600, receiveMaximum: 10 },
  })
  assert.equal(connack.sessionPresent, true)
  const got: IPublishPacket[] = []
  for (let i = 0; i < payloads.length; i++) {
    const p = (await client.next('publish')) as IPublishPacket | null
    assert.ok(p !== null, 'the connection stays up')
    got.push(p)
    client.send({ cmd: 'puback', messageId: p.messageId, reasonCode: 0 })
  }
  assert.deepEqual(
    got.map((p) => [String(p.payload), p.dup]),
    [
      ['m-0', true],
      ['m-1', true],
      ['m-2', false],
      ['m-3', false],
      ['m-4', false],
      ['m-5', false],
    ],
    'DUP 1 on the two sent before, 0 on the four only queued',
  )
  assert.deepEqual(
    got.slice(0, 2).map((p) => p.messageId),
    ids,
    'resent with their packet ids [5.0 MQTT-4.4.0-1]',
  )
}

test('[3.1.1 MQTT-3.3.1-3] [5.0 MQTT-3.3.1-3] [5.0 MQTT-3.3.1-1] a session taken up after a kill -9 restart: DUP 1 only on the messages in flight before, DUP 0 on the queued ones', {
  timeout: 120_000,
}, async (t) => {
  const dir = durableDir('workers: 2\n')
  let server = await startDurable(t, dir)
  const { ids } = await holdSome(t, server)
  await kill9(server)
  server = await startDurable(t, dir)
  await resumeAndCheck(t, server, ids)
})

test('[3.1.1 MQTT-3.3.1-3] [5.0 MQTT-3.3.1-3] [5.0 MQTT-3.3.1-1] a session adopted from its dead worker: DUP 1 only on the messages in flight before, DUP 0 on the queued ones', {
  timeout: 120_000,
}, async (t) => {
  const dir = durableDir(`workers: 2\nhandlers: [${JSON.stringify(faults)}]\n`)
  const server = await startDurable(t, dir)
  const { sub, ids } = await holdSome(t, server)
  const worker = await workerOf(server, CLIENT)
  // a client on the subscriber's worker crashes it
  let doomed: mqtt.MqttClient | undefined
  const others: mqtt.MqttClient[] = []
  t.after(() => Promise.all(others.map((c) => c.endAsync(true))))
  for (let i = 0; i < 40 && doomed === undefined; i++) {
    const clientId = `dup-doomed-${i}`
    const client = await mqtt.connectAsync(server.url, { clientId, reconnectPeriod: 0 })
    client.on('error', () => {})
    others.push(client)
    if ((await workerOf(server, clientId)) === worker) doomed = client
  }
  assert.ok(doomed !== undefined, 'a client on the subscriber worker')
  doomed.publish('fault/crash', 'x', { qos: 0 })
  await sub.closed
  await resumeAndCheck(t, server, ids)
})
