// A node killed with kill -9 while persistent sessions had messages queued and in flight on it: their
// clients reconnect to another node and get every message a publisher had been acknowledged.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { jetstreamManager } from '@nats-io/jetstream'
import { connect } from '@nats-io/transport-node'
import type { IClientOptions } from 'mqtt'
import { QOS_STREAM } from '../../src/cluster/names.ts'
import {
  firstLogged,
  hasNatsServer,
  type MqttdNode,
  startNats,
  startNode,
  startNodes,
} from '../helpers/nats.ts'
import type { WaitList } from '../helpers/wait-list.ts'
import { connectClient } from './client.ts'
import { type Got, slowSubscriber } from './slow-subscriber.ts'

const skip = hasNatsServer() ? false : 'nats-server is not installed'

/** Publishes `m<from>` … `m<to - 1>` at QoS 1 one at a time; each joins `acked` once its PUBACK came. */
async function publishAcked(
  pub: Awaited<ReturnType<typeof connectClient>>,
  topic: string,
  from: number,
  to: number,
  acked: string[],
): Promise<void> {
  for (let i = from; i < to; i++) {
    await pub.client.publishAsync(topic, `m${i}`, { qos: 1 })
    acked.push(`m${i}`)
  }
}

/**
 * What a returning subscriber was owed: every acknowledged message it had not acknowledged itself
 * before the kill. Waits (30 s at most) until each arrived once (a re-delivery may come twice: QoS 1
 * is at least once), then says which are missing; `after` holds the last copy of each.
 */
async function owedAfterReturn(beforeKill: WaitList<Got>, back: WaitList<Got>, acked: readonly string[]) {
  const before = new Set(beforeKill.items.map((g) => g.payload))
  const owed = new Set(acked.filter((p) => !before.has(p)))
  const items = back.items
  await back
    .waitForCount(
      (g) => owed.has(g.payload) && items.find((x) => x.payload === g.payload) === g,
      owed.size,
      30_000,
      () => '',
    )
    .catch(() => {})
  const after = new Map(items.map((g) => [g.payload, g]))
  return { before, owed, after, missing: [...owed].filter((p) => !after.has(p)) }
}

const v3 = { protocolVersion: 4, clean: false } as const
const v5 = {
  protocolVersion: 5,
  clean: false,
  properties: { sessionExpiryInterval: 300, receiveMaximum: 5 },
} as const

for (const [label, protocol, publisherOn] of [
  ['v3.1.1 clean session 0, publisher on the other node', v3, 'b'],
  ['v5 with a session expiry (Receive Maximum 5), publisher on the other node', v5, 'b'],
  ['v5 with a session expiry (Receive Maximum 5), publisher on the same node until it dies', v5, 'a'],
] as const) {
  test(`kill -9 of the node holding a persistent session (${label}): everything the publisher had acknowledged reaches the subscriber on the other node, the messages in flight again with DUP [3.1.1 MQTT-4.4.0-1] [5.0 MQTT-4.4.0-1], the ones only queued without [3.1.1 MQTT-3.3.1-3] [5.0 MQTT-3.3.1-3]`, {
    skip,
  }, async (t) => {
    const nats = await startNats()
    t.after(() => nats.close())
    const [a, b] = (await startNodes(['a', 'b'], nats.url)) as [MqttdNode, MqttdNode]
    t.after(() => Promise.all([a.kill(), b.kill()]))
    const clientId = `dead-${protocol.protocolVersion}-${publisherOn}`
    const options: IClientOptions = { clientId, ...(protocol as IClientOptions) }

    const first = slowSubscriber(a.url, options, 20)
    assert.equal((await first.connack).sessionPresent, false)
    await first.client.subscribeAsync('dn/#', { qos: 1 })

    let pub = await connectClient((publisherOn === 'a' ? a : b).url, { clientId: `${clientId}-pub` })
    t.after(() => pub.end())
    const acked: string[] = []
    let inFlight: string[] = []
    const total = 400
    const killAt = 200
    for (let i = 0; i < total; i++) {
      if (i === killAt) {
        // a window of acknowledged messages the subscriber has not acknowledged yet (queued or in flight on A)
        assert.ok(
          first.received.items.length < killAt,
          `the subscriber is behind: ${first.received.items.length}`,
        )
        inFlight = first.freeze()
        await a.kill('SIGKILL')
        if (publisherOn === 'a') {
          // its node died under it: it goes on on the other one
          await pub.end().catch(() => {})
          pub = await connectClient(b.url, { clientId: `${clientId}-pub` })
        }
      }
      await pub.client.publishAsync('dn/t', `m${i}`, { qos: 1 })
      acked.push(`m${i}`)
    }
    first.client.end(true)

    const back = slowSubscriber(b.url, options, 0)
    t.after(() => back.client.endAsync(true))
    assert.equal((await back.connack).sessionPresent, true)
    const { before, owed, after, missing } = await owedAfterReturn(first.received, back.received, acked)
    const items = back.received.items
    t.diagnostic(
      `acknowledged ${acked.length}; before the kill ${before.size}; owed ${owed.size}; in flight at the kill ${inFlight.length}; received after ${items.length} (${items.length - after.size} twice)`,
    )
    assert.deepEqual(
      missing,
      [],
      `acknowledged ${acked.length}, received ${before.size} before the kill and ${after.size} after; ${missing.length} missing`,
    )
    // what A had sent without its acknowledgement comes again marked as a re-delivery
    for (const p of inFlight) assert.equal(after.get(p)?.dup, true, `${p} again with DUP`)
    if (protocol.protocolVersion === 5) {
      // A sent at most Receive Maximum of them: the others were only queued there, a first attempt now
      const dupped = new Set(items.filter((g) => g.dup).map((g) => g.payload))
      assert.ok(
        dupped.size <= protocol.properties.receiveMaximum,
        `${dupped.size} messages with DUP 1 (of ${owed.size} owed), at most ${protocol.properties.receiveMaximum} were sent`,
      )
    }
  })
}

for (const [where, sameNode] of [
  ['on two other nodes at once: one node adopts both, the other takes its session from it', false],
  [
    'on two workers of one node at once: one worker adopts both, the other takes its session once the adoption delivered',
    true,
  ],
] as const) {
  test(`two persistent sessions of one killed worker resuming ${where}; neither loses an acknowledged message`, {
    skip,
  }, async (t) => {
    const nats = await startNats()
    t.after(() => nats.close())
    // A with one worker: both sessions on the same worker; B with two
    const nodes = await Promise.all([
      startNode('a', nats.url, { workers: 1 }),
      startNode('b', nats.url, { workers: 2 }),
      startNode('c', nats.url, { workers: 1 }),
    ])
    const [a, b, c] = nodes
    t.after(() => Promise.all(nodes.map((n) => n.kill())))
    const options = (clientId: string): IClientOptions => ({ clientId, ...v5 })
    const subs = ['pair-1', 'pair-2'].map((id) => slowSubscriber(a.url, options(id), 20))
    for (const s of subs) {
      await s.connack
      await s.client.subscribeAsync('pair/#', { qos: 1 })
    }
    const pub = await connectClient(c.url, { clientId: 'pair-pub' })
    t.after(() => pub.end())
    const acked: string[] = []
    await publishAcked(pub, 'pair/t', 0, 200, acked)
    for (const s of subs) s.freeze()
    await a.kill('SIGKILL')
    for (const s of subs) s.client.end(true)
    // both at once: the adoption's lock picks one worker, the other waits for it (B's two workers
    // each take one of the two connections: its pool gives a connection to the least busy worker)
    const back = [
      slowSubscriber(b.url, options('pair-1'), 0),
      slowSubscriber((sameNode ? b : c).url, options('pair-2'), 0),
    ]
    t.after(() => Promise.all(back.map((s) => s.client.endAsync(true))))
    for (const s of back) assert.equal((await s.connack).sessionPresent, true)
    for (const [i, s] of back.entries()) {
      const { before, owed, missing } = await owedAfterReturn(subs[i]!.received, s.received, acked)
      t.diagnostic(
        `pair-${i + 1}: before the kill ${before.size}; owed ${owed.size}; missing ${missing.length}`,
      )
      assert.deepEqual(missing, [], `pair-${i + 1}: ${missing.length} of ${owed.size} missing`)
    }
  })
}

/**
 * Resolves once JetStream has no consumer of node `nodeId`'s workers any more (removed or deleted);
 * stops looking (unresolved) once `stop.done`.
 */
async function consumersGone(natsUrl: string, nodeId: string, stop: { done: boolean }): Promise<void> {
  const nc = await connect({ servers: natsUrl })
  try {
    const jsm = await jetstreamManager(nc)
    while (!stop.done) {
      const names: string[] = []
      for await (const c of jsm.consumers.list(QOS_STREAM)) names.push(c.name)
      if (!names.some((n) => n.startsWith(`${nodeId}_`))) return
      await new Promise((resolve) => setTimeout(resolve, 200))
    }
    return new Promise(() => {})
  } finally {
    await nc.close()
  }
}

test('kill -9 of the node holding a persistent session whose client stays away: a survivor notices the death and adopts the session and its messages before the dead consumer is removed; the client returns after that and gets every acknowledged message [5.0 MQTT-4.4.0-1]', {
  skip,
}, async (t) => {
  const nats = await startNats()
  t.after(() => nats.close())
  // JetStream removes an unadopted consumer after 3 s here (5 minutes by default): a recovery that
  // waits for the client's return loses what that consumer held; a worker silent for 1 s is dead
  const cluster = { consumerIdleMs: 3000, deadWorkerAfterMs: 1000 }
  const nodes = await Promise.all([
    startNode('a', nats.url, { workers: 1, cluster }),
    startNode('b', nats.url, { cluster }),
    startNode('c', nats.url, { cluster }),
  ])
  const [a, b, c] = nodes
  t.after(() => Promise.all(nodes.map((n) => n.kill())))
  const options: IClientOptions = { clientId: 'away', ...v5 }
  const first = slowSubscriber(a.url, options, 20)
  assert.equal((await first.connack).sessionPresent, false)
  await first.client.subscribeAsync('away/#', { qos: 1 })
  const pub = await connectClient(c.url, { clientId: 'away-pub' })
  t.after(() => pub.end())
  const acked: string[] = []
  await publishAcked(pub, 'away/t', 0, 200, acked)
  assert.ok(first.received.items.length < 200, `the subscriber is behind: ${first.received.items.length}`)
  const inFlight = first.freeze()
  await a.kill('SIGKILL')
  const killedAt = Date.now()
  first.client.end(true)
  // published while nobody is connected for the session: only the stream has them
  await publishAcked(pub, 'away/t', 200, 250, acked)

  // the client stays away until a survivor adopted A's worker, or until A's consumer is gone (what
  // the code before the survivors' watch came to: nobody adopts)
  const adopted = firstLogged(
    [b, c],
    /"node":"a"[^\n]*"msg":"cluster: adopting the sessions of a dead worker"/,
  )
  const stop = { done: false }
  const sentinel = await Promise.race([
    adopted.then((n) => `adopted by ${n.nodeId}`),
    consumersGone(nats.url, 'a', stop).then(() => "A's consumer gone, nobody adopted"),
  ])
  stop.done = true
  t.diagnostic(`${sentinel} ${Date.now() - killedAt} ms after the kill`)

  const back = slowSubscriber(b.url, options, 0)
  t.after(() => back.client.endAsync(true))
  assert.equal((await back.connack).sessionPresent, true)
  const backAt = Date.now()
  const { before, owed, after, missing } = await owedAfterReturn(first.received, back.received, acked)
  t.diagnostic(`${Date.now() - backAt} ms from the CONNACK to the last owed message`)
  t.diagnostic(
    `acknowledged ${acked.length}; before the kill ${before.size}; owed ${owed.size}; in flight at the kill ${inFlight.length}; missing ${missing.length}`,
  )
  assert.deepEqual(missing, [], `${missing.length} of ${owed.size} owed messages missing`)
  for (const p of inFlight) assert.equal(after.get(p)?.dup, true, `${p} again with DUP`)
  // all acknowledged by the client now: the adopter lets the dead consumer go, and the stream its messages
  await consumersGone(nats.url, 'a', { done: false })
})

test('the adopter killed too before the client returns: its own adopter reads the first dead consumer again, and the client still gets every acknowledged message [5.0 MQTT-4.4.0-1]', {
  skip,
}, async (t) => {
  const nats = await startNats()
  t.after(() => nats.close())
  const cluster = { consumerIdleMs: 5000, deadWorkerAfterMs: 1000 }
  // one worker each: the adopting worker is its node
  const nodes = await Promise.all(
    ['a', 'b', 'c'].map((id) => startNode(id, nats.url, { workers: 1, cluster })),
  )
  const [a, b, c] = nodes as [MqttdNode, MqttdNode, MqttdNode]
  t.after(() => Promise.all(nodes.map((n) => n.kill())))
  const options: IClientOptions = { clientId: 'twice', ...v5 }
  const first = slowSubscriber(a.url, options, 20)
  assert.equal((await first.connack).sessionPresent, false)
  await first.client.subscribeAsync('twice/#', { qos: 1 })
  const pub = await connectClient(b.url, { clientId: 'twice-pub' })
  const acked: string[] = []
  await publishAcked(pub, 'twice/t', 0, 200, acked)
  await pub.end()
  assert.ok(first.received.items.length < 200, `the subscriber is behind: ${first.received.items.length}`)
  first.freeze()
  await a.kill('SIGKILL')
  first.client.end(true)

  const adopting = (dead: string) =>
    new RegExp(`"node":"${dead}"[^\\n]*"msg":"cluster: adopting the sessions of a dead worker"`)
  const adopter = await firstLogged([b, c], adopting('a'))
  // the session and A's messages are on the adopter, offline; the adopter dies as well
  await firstLogged([adopter], /"msg":"cluster: adopted the messages a dead worker held"/)
  await adopter.kill('SIGKILL')
  const last = adopter === b ? c : b
  await firstLogged([last], adopting(adopter.nodeId))
  t.diagnostic(`A adopted by ${adopter.nodeId}, ${adopter.nodeId} adopted by ${last.nodeId}`)

  const back = slowSubscriber(last.url, options, 0)
  t.after(() => back.client.endAsync(true))
  assert.equal((await back.connack).sessionPresent, true)
  const { before, owed, missing } = await owedAfterReturn(first.received, back.received, acked)
  t.diagnostic(`before the kill ${before.size}; owed ${owed.size}; missing ${missing.length}`)
  assert.deepEqual(missing, [], `${missing.length} of ${owed.size} owed messages missing`)
})
