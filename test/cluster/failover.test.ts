// A cluster riding out failures: nats-server restarted under traffic; a node killed with kill -9.
import assert from 'node:assert/strict'
import { type TestContext, test } from 'node:test'
import {
  counterOf,
  hasNatsServer,
  type MqttdNode,
  startNats,
  startNode,
  startNodes,
} from '../helpers/nats.ts'
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy.ts'
import { connectClient, type TestClient } from './client.ts'

const skip = hasNatsServer() ? false : 'nats-server is not installed'

/** A nats-server and nodes a and b on it, all stopped when the test ends. */
async function twoNodes(
  t: TestContext,
): Promise<{ nats: Awaited<ReturnType<typeof startNats>>; a: MqttdNode; b: MqttdNode }> {
  const nats = await startNats()
  t.after(() => nats.close())
  const [a, b] = (await startNodes(['a', 'b'], nats.url)) as [MqttdNode, MqttdNode]
  t.after(() => Promise.all([a.kill(), b.kill()]))
  return { nats, a, b }
}

/** A subscriber to `filter` (QoS 1 unless said) on `at` and a publisher on `from`, both closed when the test ends. */
async function subscriberAndPublisher(
  t: TestContext,
  at: MqttdNode,
  filter: string,
  from: MqttdNode,
  qos: 1 | 2 = 1,
): Promise<{ sub: TestClient; pub: TestClient }> {
  const sub = await connectClient(at.url)
  t.after(() => sub.end())
  await sub.client.subscribeAsync(filter, { qos })
  const pub = await connectClient(from.url)
  t.after(() => pub.end())
  return { sub, pub }
}

/**
 * Publishes `count` messages at `qos` to `topic` (payload: the index) with 20 in flight at most (the
 * server's Receive Maximum is a limit mqtt.js does not keep); `before(i)` runs before message i
 * goes. Resolves, once all are answered, with the payloads acknowledged: one refused (v5 0x80 after
 * publishTimeoutMs) is not owed.
 */
async function publishPipelined(
  pub: TestClient,
  topic: string,
  count: number,
  before: (i: number) => Promise<void> | void,
  qos: 1 | 2 = 1,
): Promise<Set<string>> {
  const acked = new Set<string>()
  const settled: Promise<void>[] = []
  const inFlight = new Set<Promise<void>>()
  for (let i = 0; i < count; i++) {
    await before(i)
    if (inFlight.size >= 20) await Promise.race(inFlight)
    const done = pub.client.publishAsync(topic, String(i), { qos }).then(
      () => void acked.add(String(i)),
      () => {},
    )
    const tracked = done.finally(() => inFlight.delete(tracked))
    inFlight.add(tracked)
    settled.push(tracked)
  }
  await Promise.all(settled)
  return acked
}

test('nats-server restarted mid-traffic: the nodes reconnect, nothing acknowledged is lost, local delivery goes on', {
  skip,
}, async (t) => {
  const { nats, a, b } = await twoNodes(t)
  const { sub: remote, pub } = await subscriberAndPublisher(t, b, 'fo/#', a)
  const local = await connectClient(a.url)
  t.after(() => local.end())
  await local.client.subscribeAsync('local/#', { qos: 0 })

  const acked: string[] = []
  let restarted: Promise<void> | undefined
  for (let i = 0; i < 120; i++) {
    if (i === 40) {
      await nats.stop()
      // local delivery does not need NATS
      await pub.client.publishAsync('local/x', 'while-down', { qos: 0 })
      await local.waitFor((m) => m.payload === 'while-down')
      restarted = nats.start()
    }
    try {
      await pub.client.publishAsync('fo/t', `m${i}`, { qos: 1 })
      acked.push(`m${i}`)
    } catch {
      // refused (v5 0x80, cluster unavailable): not acknowledged, so not owed
    }
  }
  await restarted
  assert.ok(acked.length >= 100, `acknowledged ${acked.length} of 120`)
  await remote.waitFor((m) => m.topic === 'fo/t', acked.length, 30_000)
  const got = new Set(remote.received.map((m) => m.payload))
  assert.deepEqual(
    acked.filter((p) => !got.has(p)),
    [],
  )
  const metrics = await (await fetch(`${a.adminUrl}/metrics`)).text()
  const line = metrics.split('\n').find((l) => l.startsWith('mqttd_cluster_nats_reconnects_total{node="a"}'))
  assert.ok(Number(line?.split(' ')[1]) >= 1, `reconnects counted: ${line}`)
})

for (const qos of [1, 2] as const) {
  test(`nats-server restarted under pipelined QoS ${qos} publishes (one publisher on A, a subscriber on B)`, {
    skip,
  }, async (t) => {
    const { nats, a, b } = await twoNodes(t)
    const { sub: remote, pub } = await subscriberAndPublisher(t, b, 'ord/#', a, qos)

    // pipelined publishes, NATS stopped and started while they go on
    let restarted: Promise<void> | undefined
    const acked = await publishPipelined(
      pub,
      'ord/t',
      600,
      async (i) => {
        if (i === 150) restarted = nats.stop().then(() => nats.start())
        if (i % 10 === 0 && i > 0) await new Promise((resolve) => setTimeout(resolve, 5))
      },
      qos,
    )
    await restarted
    assert.ok(acked.size >= 300, `acknowledged ${acked.size} of 600`)
    // everything before the marker is in the stream already: it arrives before it, if the order holds
    await pub.client.publishAsync('ord/t', 'end', { qos })
    await remote.waitFor((m) => m.payload === 'end', 1, 30_000)
    const firsts: number[] = []
    const seen = new Set<string>()
    for (const m of remote.received) {
      if (m.topic !== 'ord/t' || m.payload === 'end' || seen.has(m.payload)) continue
      seen.add(m.payload)
      firsts.push(Number(m.payload))
    }

    await t.test(
      '[3.1.1 MQTT-4.6.0-5] [5.0 MQTT-4.6.0-5] the subscriber gets the publisher’s messages in its order',
      () => {
        const outOfOrder = firsts.filter((n, k) => k > 0 && n < firsts[k - 1]!)
        assert.deepEqual(outOfOrder, [], `received out of the publisher's order: ${firsts.join(',')}`)
      },
    )
    // nats-server 2.9 acknowledges publishes while it shuts down that are gone after its restart, and
    // the consumers step over them: the workers send again those the stream lacks beyond what every
    // worker received (docs/cluster.md)
    const recovered = await counterOf(a, 'mqttd_cluster_stream_recovered_total')
    await t.test('none of the acknowledged messages is missing', () => {
      assert.deepEqual(
        [...acked].filter((p) => !seen.has(p)),
        [],
        `node A sent ${recovered} again after the restart`,
      )
    })
    if (qos === 2)
      await t.test('[3.1.1 §4.3.3] [5.0 §4.3.3] QoS 2: no message reaches the subscriber twice', () => {
        const copies = new Map<string, number>()
        for (const m of remote.received) copies.set(m.payload, (copies.get(m.payload) ?? 0) + 1)
        assert.deepEqual(
          [...copies].filter(([, n]) => n > 1).map(([payload]) => payload),
          [],
        )
      })
  })
}

test('a node killed with kill -9: its clients reconnect to another node, nothing they had acknowledged is lost', {
  skip,
}, async (t) => {
  const { a, b } = await twoNodes(t)
  const onB = await connectClient(b.url)
  t.after(() => onB.end())
  await onB.client.subscribeAsync('k9/#', { qos: 1 })
  // a persistent session on the node about to die
  const persistent = { clientId: 'k9-sub', clean: false, properties: { sessionExpiryInterval: 300 } }
  const doomed = await connectClient(a.url, persistent)
  await doomed.client.subscribeAsync('k9/p', { qos: 1 })
  let pub = await connectClient(a.url, { clientId: 'k9-pub' })
  const acked: string[] = []
  for (let i = 0; i < 60; i++) {
    if (i === 30) {
      await a.kill('SIGKILL')
      await pub.end().catch(() => {})
      // the client's next node
      pub = await connectClient(b.url, { clientId: 'k9-pub' })
    }
    await pub.client.publishAsync('k9/t', `m${i}`, { qos: 1 })
    acked.push(`m${i}`)
  }
  t.after(() => pub.end())
  await onB.waitFor((m) => m.topic === 'k9/t', acked.length, 20_000)
  assert.deepEqual(onB.received.map((m) => m.payload).sort(), [...acked].sort())
  // its client comes back on B: B adopts the session (subscriptions from the directory, messages from A's consumer)
  await doomed.end().catch(() => {})
  const mqtt = (await import('mqtt')).default
  const back = mqtt.connect(b.url, { protocolVersion: 5, reconnectPeriod: 0, ...persistent })
  t.after(() => back.endAsync(true))
  const connack = await new Promise<{ sessionPresent: boolean }>((resolve) => back.once('connect', resolve))
  assert.equal(connack.sessionPresent, true)
  const got = new Promise<string>((resolve) =>
    back.once('message', (_topic, payload) => resolve(payload.toString())),
  )
  await pub.client.publishAsync('k9/p', 'after', { qos: 1 })
  assert.equal(await got, 'after')
})

/**
 * A nats-server, node a reaching it through a TCP proxy the test can cut (a alone cut off), node
 * b directly; all stopped when the test ends.
 */
async function nodesWithACutOff(
  t: TestContext,
  deadWorkerAfterMs: number,
): Promise<{ proxy: TcpProxy; a: MqttdNode; b: MqttdNode }> {
  const nats = await startNats()
  t.after(() => nats.close())
  const proxy = await startTcpProxy(nats.port)
  t.after(() => proxy.close())
  const cluster = { deadWorkerAfterMs }
  // The stream's backlog from the cut reaches A's subscriber at once when A is back: beyond its
  // in-flight window a session queues maxQueuedMessages (default 1000) and drops the rest as
  // configured (mqttd_messages_dropped_total{reason="queue_full"}, seen in a loaded CI run: 229 of
  // 2000). These tests are about the cut, not the queue's cap.
  const broker = { maxQueuedMessages: 100_000 }
  const nodes = await Promise.all([
    startNode('a', proxy.url, { cluster, broker }),
    startNode('b', nats.url, { cluster, broker }),
  ])
  t.after(() => Promise.all(nodes.map((n) => n.kill())))
  const [a, b] = nodes as [MqttdNode, MqttdNode]
  return { proxy, a, b }
}

/** Resolves once `check` holds (asked every 100 ms): a sentinel, not a sleep. */
async function until(check: () => Promise<boolean>): Promise<void> {
  while (!(await check())) await new Promise((resolve) => setTimeout(resolve, 100))
}

test('a node cut off from NATS for less than deadWorkerAfterMs is not taken for dead: the other node sees its workers without subscriptions, then back, and adopts nothing; the persistent session stays where it is', {
  skip,
}, async (t) => {
  // a wide margin over the cut (a few looks) and the reconnect, on a loaded machine too
  const { proxy, a, b } = await nodesWithACutOff(t, 5000)
  const sub = await connectClient(a.url, {
    clientId: 'cut-off',
    clean: false,
    properties: { sessionExpiryInterval: 300 },
  })
  t.after(() => sub.end())
  await sub.client.subscribeAsync('cut/#', { qos: 1 })

  const looks = 'mqttd_cluster_dead_worker_looks_total'
  const atCut = await counterOf(b, looks)
  const reconnects = await counterOf(a, 'mqttd_cluster_nats_reconnects_total')
  await proxy.cut()
  // B looks while A's workers have no subscriptions in NATS (4 looks of B's two workers: one of them
  // made two, the second one wholly during the cut)
  await until(async () => (await counterOf(b, looks)) >= atCut + 4)
  await proxy.restore()
  await until(async () => (await counterOf(a, 'mqttd_cluster_nats_reconnects_total')) >= reconnects + 2)
  // and then looks for longer than deadWorkerAfterMs (a look every 0.8-2.5 s per worker: 8 each)
  const back = await counterOf(b, looks)
  await until(async () => (await counterOf(b, looks)) >= back + 16)
  assert.equal(await counterOf(b, 'mqttd_cluster_adoptions_total'), 0, 'B adopted nothing')
  assert.doesNotMatch(b.output(), /taken for dead/)
  // the session is still A's, with its subscription in NATS
  const pub = await connectClient(b.url)
  t.after(() => pub.end())
  await pub.client.publishAsync('cut/x', 'after', { qos: 1 })
  await sub.waitFor((m) => m.payload === 'after')
})

test('a node cut off from NATS under pipelined QoS 1 traffic from another node: its subscriber gets every acknowledged message', {
  skip,
}, async (t) => {
  // the test cuts A's proxy while the stream is sending to A's workers
  const { proxy, a, b } = await nodesWithACutOff(t, 10_000)
  const { sub, pub } = await subscriberAndPublisher(t, a, 'cut/#', b)
  // B knows A's subscription before the first publish (the stream copy goes to every worker anyway)
  await pub.client.publishAsync('cut/t', 'first', { qos: 1 })
  await sub.waitFor((m) => m.payload === 'first')

  const reconnects = await counterOf(a, 'mqttd_cluster_nats_reconnects_total')
  let cut: Promise<void> | undefined
  const acked = await publishPipelined(pub, 'cut/t', 2000, async (i) => {
    // cut while the stream sends to A, back a moment later
    if (i === 600) cut = proxy.cut().then(() => new Promise((resolve) => setTimeout(resolve, 200)))
    if (i === 700) await cut!.then(() => proxy.restore())
  })
  await until(async () => (await counterOf(a, 'mqttd_cluster_nats_reconnects_total')) >= reconnects + 2)
  // one sent into the connection that died comes again late (docs/cluster.md): waited for, 30 s at most
  const missingNow = () => {
    const got = new Set(sub.received.map((m) => m.payload))
    return [...acked].filter((p) => !got.has(p))
  }
  const deadline = Date.now() + 30_000
  await until(async () => missingNow().length === 0 || Date.now() > deadline)
  const missing = missingNow()
  assert.deepEqual(missing, [], `${missing.length} of ${acked.size} acknowledged messages missing`)
})
