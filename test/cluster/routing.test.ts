// Three mqttd nodes, each its own process, joined through one real nats-server: what a client
// publishes on one node reaches subscribers on the others, with MQTT's rules (QoS, wildcards,
// `$` topics, No Local, Retain As Published, Subscription Identifiers).
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { hasNatsServer, type MqttdNode, type NatsServer, startNats, startNode } from '../helpers/nats.ts'
import { connectClient, type TestClient } from './client.ts'

const skip = hasNatsServer() ? false : 'nats-server is not installed'

describe('cluster routing across nodes', { skip }, () => {
  let nats: NatsServer
  let a: MqttdNode
  let b: MqttdNode
  let c: MqttdNode
  const clients: TestClient[] = []
  const client = async (node: MqttdNode, options = {}) => {
    const tc = await connectClient(node.url, options)
    clients.push(tc)
    return tc
  }

  before(async () => {
    nats = await startNats()
    const extra = { broker: { allowReservedPublish: ['$app/#'] } }
    ;[a, b, c] = await Promise.all([
      startNode('a', nats.url, extra),
      startNode('b', nats.url, extra),
      startNode('c', nats.url, extra),
    ])
  })

  after(async () => {
    await Promise.all(clients.map((tc) => tc.end().catch(() => {})))
    await Promise.all([a?.kill(), b?.kill(), c?.kill()])
    await nats?.close()
  })

  test('QoS 0, 1 and 2 from node A reach subscribers on B and C once, at the granted QoS', async () => {
    const onB = await client(b)
    const onC = await client(c)
    await onB.client.subscribeAsync('q/+/x', { qos: 2 })
    await onC.client.subscribeAsync('q/#', { qos: 1 })
    const pub = await client(a)
    for (const qos of [0, 1, 2] as const) await pub.client.publishAsync(`q/${qos}/x`, `m${qos}`, { qos })
    await pub.client.publishAsync('q/end/x', 'end', { qos: 1 })
    await onB.waitFor((m) => m.topic === 'q/end/x')
    await onC.waitFor((m) => m.topic === 'q/end/x')
    // QoS 0 travels on core NATS, QoS 1/2 through JetStream: the order between the two is not kept
    const seen = (tc: TestClient) => tc.received.map((m) => `${m.topic} ${m.qos}`).sort()
    assert.deepEqual(seen(onB), ['q/0/x 0', 'q/1/x 1', 'q/2/x 2', 'q/end/x 1'])
    assert.deepEqual(seen(onC), ['q/0/x 0', 'q/1/x 1', 'q/2/x 1', 'q/end/x 1'])
  })

  test('# also matches the parent level across nodes [5.0 MQTT-4.7.1-2] [3.1.1 MQTT-4.7.1-2]; + one level', async () => {
    const onB = await client(b)
    await onB.client.subscribeAsync(['par/#', 'one/+'], { qos: 1 })
    const pub = await client(a)
    for (const topic of ['par', 'par/x/y', 'one', 'one/x', 'one/x/y', 'par/end'])
      await pub.client.publishAsync(topic, topic, { qos: 1 })
    await onB.waitFor((m) => m.topic === 'par/end')
    assert.deepEqual(
      onB.received.map((m) => m.topic),
      ['par', 'par/x/y', 'one/x', 'par/end'],
    )
  })

  test('wildcards never match $ topics across nodes [5.0 MQTT-4.7.2-1] [3.1.1 MQTT-4.7.2-1]; a $ filter does', async () => {
    const wild = await client(b)
    await wild.client.subscribeAsync(['#', '+/dollar'], { qos: 1 })
    const dollar = await client(c)
    await dollar.client.subscribeAsync('$app/#', { qos: 1 })
    const pub = await client(a)
    await pub.client.publishAsync('$app/dollar', 'reserved', { qos: 1 })
    await pub.client.publishAsync('plain/dollar', 'sentinel', { qos: 1 })
    await wild.waitFor((m) => m.topic === 'plain/dollar')
    await dollar.waitFor((m) => m.topic === '$app/dollar')
    assert.deepEqual(
      wild.received.filter((m) => m.topic.startsWith('$')),
      [],
    )
    await wild.end()
  })

  test('topics with dots, empty levels and whitespace keep their exact topic across nodes', async () => {
    const topics = ['dot.ted/x', 'lead/', '/lead', 'emp//ty', 'white space/x', 'star/*', 'gt/>']
    const exact = await client(b)
    await exact.client.subscribeAsync(topics, { qos: 1 })
    const wild = await client(c)
    await wild.client.subscribeAsync(['+/x', '+/', 'emp/+/ty', 'star/+', 'gt/#', '+/lead'], { qos: 1 })
    const pub = await client(a)
    for (const topic of topics) await pub.client.publishAsync(topic, topic, { qos: 1 })
    await exact.waitFor(() => true, topics.length)
    assert.deepEqual(exact.received.map((m) => m.topic).sort(), [...topics].sort())
    assert.ok(exact.received.every((m) => m.payload === m.topic))
    await wild.waitFor(() => true, 7)
    assert.deepEqual(
      wild.received.map((m) => m.topic).sort(),
      ['dot.ted/x', 'lead/', '/lead', 'emp//ty', 'white space/x', 'star/*', 'gt/>'].sort(),
    )
  })

  test('No Local across nodes: never back to the publisher, still to others [5.0 MQTT-3.8.3-3]', async () => {
    const self = await client(a)
    await self.client.subscribeAsync('nl/t', { qos: 1, nl: true })
    await self.client.subscribeAsync('nl/sentinel', { qos: 1 })
    const other = await client(b)
    await other.client.subscribeAsync('nl/t', { qos: 1, nl: true })
    await self.client.publishAsync('nl/t', 'x', { qos: 1 })
    await self.client.publishAsync('nl/sentinel', 's', { qos: 1 })
    await other.waitFor((m) => m.topic === 'nl/t')
    await self.waitFor((m) => m.topic === 'nl/sentinel')
    assert.deepEqual(
      self.received.map((m) => m.topic),
      ['nl/sentinel'],
    )
  })

  test('Retain As Published across nodes: RETAIN kept only for rap subscriptions [5.0 MQTT-3.3.1-12] [5.0 MQTT-3.3.1-13]', async () => {
    const rap = await client(b)
    await rap.client.subscribeAsync('rap/t', { qos: 1, rap: true, rh: 2 })
    const plain = await client(c)
    await plain.client.subscribeAsync('rap/t', { qos: 1, rap: false, rh: 2 })
    const pub = await client(a)
    await pub.client.publishAsync('rap/t', 'r', { qos: 1, retain: true })
    const [x] = await rap.waitFor(() => true)
    const [y] = await plain.waitFor(() => true)
    assert.equal(x!.retain, true)
    assert.equal(y!.retain, false)
    await pub.client.publishAsync('rap/t', '', { qos: 1, retain: true })
  })

  test('subscription identifiers and v5 properties travel across nodes [5.0 MQTT-3.3.4-3] [5.0 MQTT-3.3.2-4]', async () => {
    const sub = await client(b)
    await sub.client.subscribeAsync('sid/+', { qos: 1, properties: { subscriptionIdentifier: 7 } })
    await sub.client.subscribeAsync('sid/#', { qos: 1, properties: { subscriptionIdentifier: 9 } })
    const pub = await client(a)
    await pub.client.publishAsync('sid/x', 'p', {
      qos: 1,
      properties: {
        contentType: 'text/plain',
        responseTopic: 'reply/here',
        correlationData: Buffer.from([1, 2, 3]),
        userProperties: { k: 'v' },
        messageExpiryInterval: 60,
      },
    })
    const [m] = await sub.waitFor(() => true)
    // one copy with both identifiers [5.0 MQTT-3.3.4-3]
    assert.equal(sub.received.length, 1)
    assert.deepEqual([...(m!.properties!.subscriptionIdentifier as number[])].sort(), [7, 9])
    assert.equal(m!.properties!.contentType, 'text/plain')
    assert.equal(m!.properties!.responseTopic, 'reply/here')
    assert.deepEqual([...(m!.properties!.correlationData as Buffer)], [1, 2, 3])
    assert.deepEqual({ ...(m!.properties!.userProperties as object) }, { k: 'v' })
    assert.ok((m!.properties!.messageExpiryInterval as number) <= 60)
  })
})
