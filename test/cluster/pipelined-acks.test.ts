// In a cluster a QoS 1 PUBACK or QoS 2 PUBREC waits for JetStream; the publisher's connection reads on meanwhile.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { hasNatsServer, type MqttdNode, type NatsServer, startNats, startNodes } from '../helpers/nats.ts'
import { connectClient, type TestClient } from './client.ts'

const skip = hasNatsServer() ? false : 'nats-server is not installed'

/**
 * With JetStream stopped, `pub` publishes twice to `topic` at `qos`, then at QoS 0 to `local`'s topic
 * `localTopic` on its own node. Returns, once NATS is back and a sentinel at `qos` went through, the
 * order in which the two acknowledgements completed and the local delivery came.
 */
async function heldBehindJetStream(
  nats: NatsServer,
  pub: TestClient,
  local: TestClient,
  topic: string,
  localTopic: string,
  qos: 1 | 2,
): Promise<string[]> {
  // JetStream away: the acknowledgements wait (until NATS is back or publishTimeoutMs)
  await nats.stop()
  const events: string[] = []
  const acked = (name: string) => () => events.push(name)
  pub.client.publish(topic, 'q1', { qos }, acked('ack 1'))
  pub.client.publish(topic, 'q2', { qos }, acked('ack 2'))
  pub.client.publish(localTopic, 'after', { qos: 0 })
  // local delivery needs no NATS: it arrives while both acknowledgements still wait
  await local.waitFor((m) => m.payload === 'after')
  events.push('local delivery')
  await nats.start()
  await pub.client.publishAsync(topic, 'sentinel', { qos })
  return events
}

test('a QoS 1 PUBACK waiting for JetStream does not hold back the packets after it; PUBACKs stay in order [5.0 MQTT-4.6.0-2]', {
  skip,
}, async (t) => {
  const nats = await startNats()
  t.after(() => nats.close())
  const [a] = (await startNodes(['a'], nats.url)) as [MqttdNode]
  t.after(() => a.kill())
  const local = await connectClient(a.url)
  t.after(() => local.end())
  await local.client.subscribeAsync('pl/local', { qos: 0 })
  const pub = await connectClient(a.url)
  t.after(() => pub.end())

  const events = await heldBehindJetStream(nats, pub, local, 'pl/x', 'pl/local', 1)
  assert.deepEqual(events, ['local delivery', 'ack 1', 'ack 2'])
})

test('a QoS 2 PUBREC waiting for JetStream does not hold back the packets after it; each message is delivered once [5.0 MQTT-4.6.0-2] [5.0 MQTT-4.3.3-10]', {
  skip,
}, async (t) => {
  const nats = await startNats()
  t.after(() => nats.close())
  const [a, b] = (await startNodes(['a', 'b'], nats.url)) as [MqttdNode, MqttdNode]
  t.after(() => Promise.all([a.kill(), b.kill()]))
  const local = await connectClient(a.url)
  t.after(() => local.end())
  await local.client.subscribeAsync('pl2/local', { qos: 0 })
  const remote = await connectClient(b.url)
  t.after(() => remote.end())
  await remote.client.subscribeAsync('pl2/x', { qos: 2 })
  const pub = await connectClient(a.url)
  t.after(() => pub.end())

  const events = await heldBehindJetStream(nats, pub, local, 'pl2/x', 'pl2/local', 2)
  assert.deepEqual(events, ['local delivery', 'ack 1', 'ack 2'])
  // on the other node: each once, the sentinel last (a JetStream publish retried while NATS was away
  // may be stored after a later one: the order of q1 and q2 is not asserted, docs/cluster.md)
  await remote.waitFor((m) => m.payload === 'sentinel')
  const got = remote.received.filter((m) => m.topic === 'pl2/x').map((m) => m.payload)
  assert.equal(got.at(-1), 'sentinel')
  assert.deepEqual(got.slice(0, -1).sort(), ['q1', 'q2'])
})
