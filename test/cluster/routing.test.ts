// Three mqttd nodes, each its own process, joined through one real nats-server: what a client
// publishes on one node reaches subscribers on the others, with MQTT's rules (QoS, wildcards,
// `$` topics, No Local, Retain As Published, Subscription Identifiers).
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { freePort } from '../../load-tests/free-ports.ts'
import {
  hasNatsServer,
  type MqttdNode,
  type NatsServer,
  startNats,
  startNode,
  startNodes,
} from '../helpers/nats.ts'
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
    ;[a, b, c] = (await startNodes(['a', 'b', 'c'], nats.url, extra)) as [MqttdNode, MqttdNode, MqttdNode]
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
    // mqtt.js emits a QoS 2 message when PUBREL arrives, which may be after the QoS 1 sentinel's PUBLISH
    await onB.waitFor((m) => m.topic === 'q/2/x')
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

  test('a shared subscription across nodes gets each message once per group [5.0 §4.8.2]', async () => {
    const g1 = [await client(a), await client(b), await client(b), await client(c)]
    for (const m of g1) await m.client.subscribeAsync(['$share/g1/sh/+', 'sh-end'], { qos: 1 })
    const g2 = await client(c)
    await g2.client.subscribeAsync('$share/g2/sh/#', { qos: 1 })
    const pub = await client(a)
    const sent: string[] = []
    for (let i = 0; i < 30; i++) {
      for (const qos of [0, 1] as const) {
        sent.push(`${qos}-${i}`)
        await pub.client.publishAsync(`sh/${qos}`, `${qos}-${i}`, { qos })
      }
    }
    await g2.waitFor(() => true, sent.length)
    const all = () =>
      g1.flatMap((m) => m.received.filter((r) => r.topic.startsWith('sh/')).map((r) => r.payload))
    await new Promise<void>((resolve) => {
      const timer = setInterval(() => {
        if (all().length >= sent.length) {
          clearInterval(timer)
          resolve()
        }
      }, 20)
    })
    // what a member could still get twice would come before this marker, sent after the last one
    await pub.client.publishAsync('sh-end', 'end', { qos: 1 })
    for (const m of g1) await m.waitFor((r) => r.topic === 'sh-end')
    assert.deepEqual(all().sort(), [...sent].sort())
    assert.deepEqual(g2.received.map((r) => r.payload).sort(), [...sent].sort())
    // NATS spread the group over the nodes
    assert.ok(g1.filter((m) => m.received.length > 1).length >= 2)
  })

  test('a retained message set on A is delivered on subscribe at C; deleted on B, gone everywhere [5.0 MQTT-3.3.1-6] [5.0 MQTT-3.3.1-10]', async () => {
    const pub = await client(a)
    await pub.client.publishAsync('ret/a', 'one', { qos: 1, retain: true })
    const onC = await client(c)
    await onC.client.subscribeAsync('ret/#', { qos: 1 })
    const [got] = await onC.waitFor((m) => m.topic === 'ret/a')
    assert.equal(got!.payload, 'one')
    assert.equal(got!.retain, true)
    const del = await client(b)
    await del.client.publishAsync('ret/a', '', { qos: 1, retain: true })
    await del.client.publishAsync('ret/s', 'sentinel', { qos: 1, retain: true })
    for (const node of [a, b, c]) {
      const sub = await client(node)
      await sub.client.subscribeAsync('ret/#', { qos: 1 })
      await sub.waitFor((m) => m.topic === 'ret/s')
      assert.deepEqual(
        sub.received.map((m) => m.topic),
        ['ret/s'],
        `node ${node.nodeId}`,
      )
    }
  })

  test('retain handling across nodes: 1 only for a new subscription [5.0 MQTT-3.3.1-10], 2 never [5.0 MQTT-3.3.1-11]', async () => {
    const pub = await client(a)
    await pub.client.publishAsync('rh/t', 'kept', { qos: 1, retain: true })
    const never = await client(b)
    await never.client.subscribeAsync('rh/#', { qos: 1, rh: 2 })
    const once = await client(c)
    await once.client.subscribeAsync('rh/#', { qos: 1, rh: 1 })
    await once.waitFor((m) => m.topic === 'rh/t')
    await once.client.subscribeAsync('rh/#', { qos: 1, rh: 1 })
    await pub.client.publishAsync('rh/after', 'x', { qos: 1 })
    await never.waitFor((m) => m.topic === 'rh/after')
    await once.waitFor((m) => m.topic === 'rh/after')
    assert.deepEqual(
      never.received.map((m) => m.topic),
      ['rh/after'],
    )
    assert.deepEqual(
      once.received.map((m) => m.topic),
      ['rh/t', 'rh/after'],
    )
    await pub.client.publishAsync('rh/t', '', { qos: 1, retain: true })
  })

  test('a client id connecting on another node takes over: the old connection gets DISCONNECT 0x8E [5.0 MQTT-3.1.4-3] [3.1.1 MQTT-3.1.4-2]', async () => {
    const first = await client(a, { clientId: 'take-me' })
    const reason = new Promise<number | undefined>((resolve) =>
      first.client.once('disconnect', (packet) => resolve(packet.reasonCode)),
    )
    const second = await client(b, { clientId: 'take-me' })
    assert.equal(await reason, 0x8e)
    assert.equal(second.client.connected, true)
  })

  test('a persistent session resumes on another node with its subscriptions and queued messages [5.0 MQTT-3.1.2-5] [5.0 MQTT-3.2.2-2]', async () => {
    const options = { clientId: 'wanderer', clean: false, properties: { sessionExpiryInterval: 300 } }
    const first = await client(a, options)
    await first.client.subscribeAsync('wander/t', { qos: 1 })
    await first.end()
    const pub = await client(c)
    for (let i = 0; i < 5; i++) await pub.client.publishAsync('wander/t', `q${i}`, { qos: 1 })
    // the last one is in A's queue once this marker reached a subscriber on A
    const marker = await client(a)
    await marker.client.subscribeAsync('wander/t', { qos: 1 })
    await pub.client.publishAsync('wander/t', 'q5', { qos: 1 })
    await marker.waitFor((m) => m.payload === 'q5')
    const mqtt = (await import('mqtt')).default
    const resumed = mqtt.connect(b.url, { protocolVersion: 5, reconnectPeriod: 0, ...options })
    const payloads: string[] = []
    resumed.on('message', (_topic, payload) => payloads.push(payload.toString()))
    const connack = await new Promise<{ sessionPresent: boolean }>((resolve) =>
      resumed.once('connect', resolve),
    )
    assert.equal(connack.sessionPresent, true)
    await pub.client.publishAsync('wander/t', 'after', { qos: 1 })
    await new Promise<void>((resolve) => {
      const check = () => (payloads.includes('after') ? resolve() : setTimeout(check, 20))
      check()
    })
    assert.deepEqual(payloads, ['q0', 'q1', 'q2', 'q3', 'q4', 'q5', 'after'])
    await resumed.endAsync(true)
  })

  test('GET /cluster lists every node as up', async () => {
    const res = await fetch(`${b.adminUrl}/cluster`)
    assert.equal(res.status, 200)
    const body = (await res.json()) as {
      nodes: { nodeId: string; state: string; self: boolean; listeners: string[] }[]
    }
    assert.deepEqual(
      body.nodes.map((n) => [n.nodeId, n.state, n.self]),
      [
        ['a', 'up', false],
        ['b', 'up', true],
        ['c', 'up', false],
      ],
    )
    assert.ok(
      body.nodes.every((n) => n.listeners.length === 1 && n.listeners[0]!.startsWith('tcp://127.0.0.1:')),
    )
  })
})

test('a node whose NATS cannot be reached stops at start-up with MQTTD_ERR_CLUSTER_CONNECT naming the servers', {
  skip,
}, async () => {
  const port = await freePort()
  const url = `nats://127.0.0.1:${port}`
  await assert.rejects(
    startNode('lonely', url, { workers: 1 }),
    (err: Error) => err.message.includes('MQTTD_ERR_CLUSTER_CONNECT') && err.message.includes(url),
  )
})
