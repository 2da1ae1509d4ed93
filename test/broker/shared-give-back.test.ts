/**
 * A share group member whose session ends while it holds QoS 1/2 messages of
 * the group (in flight to its client, or queued behind its Receive Maximum)
 * gives them back to the group: another member, online first, on any worker
 * of the server, gets them (MQTT 5.0 section 4.8.2). A QoS 2 message already
 * sent to the ended member is not sent to another one.
 *
 * The holding member is a raw client (it withholds its acknowledgements, which
 * mqtt.js does not do); the other member and the publisher are mqtt.js.
 */
import assert from 'node:assert/strict'
import { type TestContext, test } from 'node:test'
import type { IPublishPacket } from 'mqtt-packet'
import { parseExposition, sampleValue } from '../helpers/prom-text.ts'
import { RawClient } from '../helpers/raw-client.ts'
import type { TestServer } from '../helpers/server.ts'
import { connectClient, connectOn, sentinel, startBroker, type TestClient } from './helpers.ts'

const GROUP_FILTER = '$share/g/t'

async function givenBack(server: TestServer): Promise<number> {
  const res = await fetch(`http://127.0.0.1:${server.admin!.port}/metrics`)
  return sampleValue(parseExposition(await res.text()), 'mqttd_broker_shared_given_back_total', {})
}

/**
 * m1 (raw, Receive Maximum 2, never acknowledging) alone in the group gets, in order: q1-a
 * (QoS 1) and q2-a (QoS 2), both sent and unacknowledged, then q2-b, q2-c (QoS 2) and q1-b..q1-e
 * (QoS 1), queued. Then m2 (mqtt.js, on the other worker) joins the group.
 */
async function memberHolding(
  t: TestContext,
  server: TestServer,
  m1Fields: Record<string, unknown>,
  /** Runs once m1 is connected, before the messages (another member joining, say). */
  prepare: (m1Worker: number) => Promise<void> = async () => {},
): Promise<{ m1: RawClient; m2: TestClient; pub: TestClient }> {
  const { client: m1 } = await RawClient.connect(t, server.port(), {
    clientId: 'm1',
    properties: { receiveMaximum: 2 },
    ...m1Fields,
  })
  const m1Worker = await m1.worker()
  m1.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: GROUP_FILTER, qos: 2 }] })
  await m1.waitFor((p) => p.cmd === 'suback')
  await prepare(m1Worker)
  const pub = await connectClient(t, server, { protocolVersion: 5, clientId: 'pub' })
  await pub.client.publishAsync('t', 'q1-a', { qos: 1 })
  await pub.client.publishAsync('t', 'q2-a', { qos: 2 })
  for (const p of ['q2-b', 'q2-c']) await pub.client.publishAsync('t', p, { qos: 2 })
  for (const p of ['q1-b', 'q1-c', 'q1-d', 'q1-e']) await pub.client.publishAsync('t', p, { qos: 1 })
  const sent = await m1.waitFor((p) => p.cmd === 'publish' && p.topic === 't', 2)
  assert.deepEqual(
    sent.map((p) => String((p as IPublishPacket).payload)),
    ['q1-a', 'q2-a'],
    'm1 got its window: two in flight, the rest queued',
  )
  const m2 = await connectOn(t, server, (w) => w !== m1Worker, { protocolVersion: 5, clientId: 'm2' })
  await m2.client.subscribeAsync(GROUP_FILTER, { qos: 2 })
  await m2.client.subscribeAsync('mark/m2', { qos: 1 })
  return { m1, m2, pub }
}

/** What m2 must get once m1's session ended: all but q2-a, sent to m1 at QoS 2. */
const expected = ['q1-a', 'q1-b', 'q1-c', 'q1-d', 'q1-e', 'q2-b', 'q2-c']

async function assertGivenBack(server: TestServer, m2: TestClient, pub: TestClient): Promise<void> {
  await m2.inbox.waitFor(expected.length)
  // behind anything else the ended session gave back: a copy of q2-a would come before it
  await sentinel(pub, m2, 'mark/m2')
  assert.deepEqual(m2.inbox.payloads().sort(), expected)
  for (const p of m2.inbox.packets) assert.equal(p.dup, false, `${String(p.payload)}: a first PUBLISH to m2`)
  assert.equal(await givenBack(server), expected.length)
}

test('[5.0 §4.8.2] [5.0 MQTT-4.8.2-5] a share group member disconnecting with session expiry 0: the QoS 1 and unsent QoS 2 messages it held go to the other member, on the other worker; the QoS 2 one sent to it does not', async (t) => {
  const server = await startBroker(t, { config: { admin: { enabled: true, host: '127.0.0.1', port: 0 } } })
  const { m1, m2, pub } = await memberHolding(t, server, {})
  m1.send({ cmd: 'disconnect', reasonCode: 0 })
  await m1.closed
  await assertGivenBack(server, m2, pub)
})

test('[5.0 §4.8.2] [5.0 MQTT-4.8.2-5] a share group member whose session expires offline: what it held goes to the other member', async (t) => {
  const server = await startBroker(t, { config: { admin: { enabled: true, host: '127.0.0.1', port: 0 } } })
  const { m1, m2, pub } = await memberHolding(t, server, {
    properties: { receiveMaximum: 2, sessionExpiryInterval: 1 },
  })
  // the connection drops; the session lives on for a second, then ends
  m1.destroy()
  await m1.closed
  await assertGivenBack(server, m2, pub)
})

test('[5.0 §4.8.2] [5.0 MQTT-4.8.2-5] a share group member whose session is discarded by a clean start on another worker: what it held goes to the other member', async (t) => {
  const server = await startBroker(t, { config: { admin: { enabled: true, host: '127.0.0.1', port: 0 } } })
  const m1Fields = { properties: { receiveMaximum: 2, sessionExpiryInterval: 3600 } }
  const { m1, m2, pub } = await memberHolding(t, server, m1Fields)
  m1.destroy()
  await m1.closed
  // the same client id again with Clean Start, on m2's worker: the old session ends there
  const again = await connectOn(t, server, (w) => w === m2.worker, {
    protocolVersion: 5,
    clientId: 'm1',
    clean: true,
  })
  assert.equal(again.sessionPresent, false)
  await assertGivenBack(server, m2, pub)
})

test('[5.0 §4.8.2] what an ended member held goes to an online member on another worker before an offline one on its own worker', async (t) => {
  const server = await startBroker(t, { config: { admin: { enabled: true, host: '127.0.0.1', port: 0 } } })
  const m3Options = {
    protocolVersion: 5 as const,
    clientId: 'm3',
    clean: false,
    properties: { sessionExpiryInterval: 300 },
  }
  const { m1, m2, pub } = await memberHolding(t, server, {}, async (m1Worker) => {
    // a persistent member on m1's worker, offline from now on: the messages go to m1 (online first)
    const m3 = await connectOn(t, server, (w) => w === m1Worker, m3Options)
    await m3.client.subscribeAsync(GROUP_FILTER, { qos: 2 })
    await m3.client.subscribeAsync('mark/m3', { qos: 1 })
    await m3.client.endAsync()
  })
  m1.send({ cmd: 'disconnect', reasonCode: 0 })
  await m1.closed
  await assertGivenBack(server, m2, pub)
  // m3 comes back: its session holds none of them, only the marker sent now
  const m3 = await connectClient(t, server, m3Options)
  assert.equal(m3.sessionPresent, true)
  await sentinel(pub, m3, 'mark/m3')
  assert.deepEqual(m3.inbox.payloads(), [])
})
