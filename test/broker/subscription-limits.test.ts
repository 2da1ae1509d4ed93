/**
 * Limits that bound what one client makes the broker hold: subscriptions per
 * client and per server, topic length and depth. Refused per filter in SUBACK
 * (v5 0x97 / 0x8F with a reason string when the client wants problem
 * information; 3.1.1 0x80), PUBLISH to an over-limit topic refused with v5
 * 0x90, each refusal counted. Real clients: RawClient (exact SUBACK codes),
 * mqtt.js v3.1.1 and v5, mosquitto_sub.
 */
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { type TestContext, test } from 'node:test'
import { promisify } from 'node:util'
import type { IPubackPacket, ISubackPacket } from 'mqtt-packet'
import { parseExposition, sampleValue } from '../helpers/prom-text.ts'
import { RawClient } from '../helpers/raw-client.ts'
import { startTestServer, type TestServer } from '../helpers/server.ts'
import { connectClient, connectOn } from './helpers.ts'

const run = promisify(execFile)

function start(t: TestContext, limits: Record<string, number>): Promise<TestServer> {
  return startTestServer(t, {
    workers: 2,
    admin: true,
    broker: { sysInterval: 0 },
    handlers: ['./broker/fixtures/worker-id.ts'],
    config: { limits },
  })
}

async function refusals(server: TestServer, labels: Record<string, string>): Promise<number> {
  const res = await fetch(`http://127.0.0.1:${server.admin!.port}/metrics`)
  return sampleValue(parseExposition(await res.text()), 'mqttd_broker_refusals_total', labels)
}

function subscribe(client: RawClient, messageId: number, topics: string[]): void {
  client.send({ cmd: 'subscribe', messageId, subscriptions: topics.map((topic) => ({ topic, qos: 1 })) })
}

/** The codes of an mqtt.js SUBSCRIBE's SUBACK (mqtt.js rejects when one is a failure). */
async function grantedOf(subscribing: Promise<{ qos: number }[]>): Promise<number[]> {
  try {
    return (await subscribing).map((g) => g.qos)
  } catch (err) {
    const packet = (err as { packet?: ISubackPacket }).packet
    if (packet === undefined) throw err
    return packet.granted as number[]
  }
}

async function suback(client: RawClient, messageId: number): Promise<ISubackPacket> {
  const [ack] = await client.waitFor((p) => p.cmd === 'suback' && p.messageId === messageId)
  return ack as ISubackPacket
}

test('limits.maxSubscriptionsPerClient: v5 SUBACK 0x97 per filter beyond the quota with a reason string, 3.1.1 0x80; replacing a filter is no new one', async (t) => {
  const server = await start(t, { maxSubscriptionsPerClient: 3 })
  const { client: v5 } = await RawClient.connect(t, server.port(), { clientId: 'v5' })
  subscribe(v5, 1, ['a', 'b', 'c', 'd', '$share/g/e'])
  const first = await suback(v5, 1)
  assert.deepEqual(first.granted, [1, 1, 1, 0x97, 0x97])
  assert.match(first.properties?.reasonString ?? '', /maxSubscriptionsPerClient/)
  // a filter the session holds is replaced [3.1.1 MQTT-3.8.4-3] [5.0 MQTT-3.8.4-3], not counted again
  subscribe(v5, 2, ['a'])
  assert.deepEqual((await suback(v5, 2)).granted, [1])
  v5.send({ cmd: 'unsubscribe', messageId: 3, unsubscriptions: ['b'] })
  await v5.waitFor((p) => p.cmd === 'unsuback')
  subscribe(v5, 4, ['d'])
  assert.deepEqual((await suback(v5, 4)).granted, [1])

  // a v5 client that asked for no problem information gets the codes without the reason string [5.0 MQTT-3.1.2-29]
  const { client: quiet } = await RawClient.connect(t, server.port(), {
    clientId: 'quiet',
    properties: { requestProblemInformation: false },
  })
  subscribe(quiet, 1, ['a', 'b', 'c', 'd'])
  const silent = await suback(quiet, 1)
  assert.deepEqual(silent.granted, [1, 1, 1, 0x97])
  assert.equal(silent.properties?.reasonString, undefined)

  const { client: v4 } = await RawClient.connect(t, server.port(), { clientId: 'v4', protocolVersion: 4 })
  subscribe(v4, 1, ['a', 'b', 'c', 'd'])
  assert.deepEqual((await suback(v4, 1)).granted, [1, 1, 1, 0x80])
  assert.equal(await refusals(server, { packet: 'subscribe', reason: 'client_subscription_quota' }), 4)
})

test('limits.maxSubscriptions: the cap counts the subscriptions of every worker', async (t) => {
  const server = await start(t, { maxSubscriptions: 4 })
  const a = await connectClient(t, server, { protocolVersion: 5, clientId: 'a' })
  assert.deepEqual(await grantedOf(a.client.subscribeAsync(['x/1', 'x/2', 'x/3'], { qos: 1 })), [1, 1, 1])
  // SUBACK waits until every worker routes a's subscriptions, so the other worker counts them
  const b = await connectOn(t, server, (w) => w !== a.worker, { protocolVersion: 4, clientId: 'b' })
  assert.deepEqual(await grantedOf(b.client.subscribeAsync(['y/1', 'y/2'], { qos: 1 })), [1, 0x80])
  assert.equal(await refusals(server, { packet: 'subscribe', reason: 'server_subscription_quota' }), 1)
  // room again once a subscription goes
  await a.client.unsubscribeAsync('x/1')
  // a SUBACK is a barrier: it comes once every worker applied a's announcements, the removal included
  await a.client.subscribeAsync('x/2', { qos: 1 })
  assert.deepEqual(await grantedOf(b.client.subscribeAsync('y/2', { qos: 1 })), [1])
})

test('limits.maxTopicLength / maxTopicLevels: filters refused 0x8F (3.1.1 0x80); v5 PUBLISH refused 0x90 without closing; 3.1.1 acknowledged and dropped [3.1.1 MQTT-3.3.5-2]', async (t) => {
  const server = await start(t, { maxTopicLength: 16, maxTopicLevels: 3 })
  const long = 'l'.repeat(17)
  const deep = 'a/b/c/d'
  const { client: v5 } = await RawClient.connect(t, server.port(), { clientId: 'v5' })
  subscribe(v5, 1, [long, deep, 'ok/+', '#'])
  const ack = await suback(v5, 1)
  assert.deepEqual(ack.granted, [0x8f, 0x8f, 1, 1])
  assert.match(ack.properties?.reasonString ?? '', /limits\.max/)
  for (const [i, topic] of [long, deep].entries()) {
    const messageId = 10 + i
    v5.send({
      cmd: 'publish',
      topic,
      payload: Buffer.from('x'),
      qos: 1,
      messageId,
      retain: false,
      dup: false,
    })
    const [puback] = await v5.waitFor((p) => p.cmd === 'puback' && p.messageId === messageId)
    assert.equal((puback as IPubackPacket).reasonCode, 0x90)
  }
  // the connection stays; a 3.1.1 client's PUBLISH is acknowledged and dropped, then the sentinel arrives
  const sub = await connectClient(t, server, { protocolVersion: 4, clientId: 'sub' })
  await sub.client.subscribeAsync('#', { qos: 1 })
  const pub = await connectClient(t, server, { protocolVersion: 4, clientId: 'pub' })
  await pub.client.publishAsync(deep, 'too deep', { qos: 1 })
  await pub.client.publishAsync(long, 'too long', { qos: 1 })
  await pub.client.publishAsync('ok/sentinel', 'ok', { qos: 1 })
  await sub.inbox.waitFor(1)
  assert.deepEqual(
    sub.inbox.packets.map((p) => p.topic),
    ['ok/sentinel'],
  )
  assert.equal(v5.socket.destroyed, false)
  assert.equal(await refusals(server, { packet: 'publish', reason: 'topic_too_long' }), 2)
  assert.equal(await refusals(server, { packet: 'publish', reason: 'topic_too_deep' }), 2)
  assert.equal(await refusals(server, { packet: 'subscribe', reason: 'topic_too_long' }), 1)
})

test('mosquitto_sub -V mqttv5 on a filter over limits.maxTopicLevels is told the subscription failed', async (t) => {
  try {
    await run('mosquitto_sub', ['--help'])
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return t.skip('mosquitto-clients not installed')
  }
  const server = await start(t, { maxTopicLevels: 2 })
  const result = await run('mosquitto_sub', [
    '-p',
    String(server.port()),
    '-V',
    'mqttv5',
    '-t',
    'a/b/c',
    '-W',
    '5',
  ]).catch((err: { stderr: string; code: number }) => err)
  assert.match((result as { stderr: string }).stderr, /denied|fail|quota|not accepted|Topic Filter/i)
})
