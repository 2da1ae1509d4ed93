// A node killed with kill -9 while a member of a shared subscription group had messages queued and in
// flight on it: every message the publisher had been acknowledged still reaches some member of the
// group, whether the killed member's client comes back on another node at once or only after a
// survivor adopted its session.
import assert from 'node:assert/strict'
import { type TestContext, test } from 'node:test'
import type { IClientOptions } from 'mqtt'
import {
  counterOf,
  firstLogged,
  hasNatsServer,
  type MqttdNode,
  startNats,
  startNode,
} from '../helpers/nats.ts'
import { WaitList } from '../helpers/wait-list.ts'
import { connectClient } from './client.ts'
import { type Got, slowSubscriber } from './slow-subscriber.ts'

const skip = hasNatsServer() ? false : 'nats-server is not installed'

const v3 = { protocolVersion: 4, clean: false } as const
const v5 = {
  protocolVersion: 5,
  clean: false,
  properties: { sessionExpiryInterval: 300, receiveMaximum: 5 },
} as const
// no session beyond the connection: the killed member's session dies with its node
const v5clean = { protocolVersion: 5, clean: true, properties: { receiveMaximum: 5 } } as const

// a worker silent for 2 s is dead (30 s by default): what it held for the group comes again soon
const cluster = { deadWorkerAfterMs: 2000, consumerIdleMs: 5000 }

/**
 * A nats-server and two nodes on it, stopped after the test: `a` with one worker (a member's messages
 * there are all on it), `b` with `bWorkers`.
 */
async function twoNodes(
  t: TestContext,
  clusterOptions: Record<string, unknown>,
  bWorkers = 2,
): Promise<{ a: MqttdNode; b: MqttdNode }> {
  const nats = await startNats()
  t.after(() => nats.close())
  const nodes = await Promise.all([
    startNode('a', nats.url, { workers: 1, cluster: clusterOptions }),
    startNode('b', nats.url, { workers: bWorkers, cluster: clusterOptions }),
  ])
  t.after(() => Promise.all(nodes.map((n) => n.kill())))
  const [a, b] = nodes as [MqttdNode, MqttdNode]
  return { a, b }
}

/**
 * Waits until every acknowledged message reached some member of the group (a sentinel: the count of
 * distinct owed payloads), or `timeoutMs`; returns those that reached none, and how many came twice.
 */
async function reachedNoMember(
  group: WaitList<Got>,
  acked: string[],
  timeoutMs: number,
): Promise<{ missing: string[]; twice: number }> {
  const owed = new Set(acked)
  const items = group.items
  await group
    .waitForCount(
      (g) => owed.has(g.payload) && items.find((x) => x.payload === g.payload) === g,
      owed.size,
      timeoutMs,
      () => '',
    )
    .catch(() => {})
  const got = new Set(items.map((g) => g.payload))
  return { missing: acked.filter((p) => !got.has(p)), twice: items.length - got.size }
}

for (const [label, protocol, comesBack, publisherOn] of [
  [
    'v5 members with a session expiry; the killed member comes back on the other node at once',
    v5,
    'at once',
    'b',
  ],
  [
    'v3.1.1 members with clean session 0; the killed member comes back only once a survivor adopted its session, the publisher on the killed node until it dies',
    v3,
    'once adopted',
    'a',
  ],
  [
    'v5 members without a session expiry; the killed member has no session to come back to',
    v5clean,
    'never',
    'b',
  ],
] as const) {
  test(`kill -9 of a node holding a member of a QoS 1 shared subscription (${label}): every message the publisher had acknowledged reaches some member of the group [5.0 §4.8.2]`, {
    skip,
  }, async (t) => {
    // one worker on A: the killed member's messages are all on it
    const { a, b } = await twoNodes(t, cluster)
    const filter = '$share/g/dns/#'
    const id = `shared-${protocol.protocolVersion}-${comesBack.replace(' ', '-')}`
    const options = (clientId: string): IClientOptions => ({ clientId, ...(protocol as IClientOptions) })
    // every message any member acknowledged, in arrival order
    const group = new WaitList<Got>()

    // the member on A acknowledges slowly: messages pile up in flight and queued for it there
    const first = slowSubscriber(a.url, options(`${id}-1`), 20, group)
    assert.equal((await first.connack).sessionPresent, false)
    await first.client.subscribeAsync(filter, { qos: 1 })
    const other = slowSubscriber(b.url, options(`${id}-2`), 0, group)
    t.after(() => other.client.endAsync(true))
    assert.equal((await other.connack).sessionPresent, false)
    await other.client.subscribeAsync(filter, { qos: 1 })

    let pub = await connectClient((publisherOn === 'a' ? a : b).url, { clientId: `${id}-pub` })
    t.after(() => pub.end())
    const acked: string[] = []
    const total = 400
    const killAt = 200
    let inFlight: string[] = []
    let outstanding = 0
    for (let i = 0; i < total; i++) {
      if (i === killAt) {
        inFlight = first.freeze()
        // acknowledged to the publisher, acknowledged by no member yet
        outstanding = killAt - group.items.length
        await a.kill('SIGKILL')
        if (publisherOn === 'a') {
          await pub.end().catch(() => {})
          pub = await connectClient(b.url, { clientId: `${id}-pub` })
        }
      }
      await pub.client.publishAsync('dns/t', `m${i}`, { qos: 1 })
      acked.push(`m${i}`)
    }
    first.client.end(true)
    const beforeKill = first.received.items.length
    // A's member had taken some of the group's messages and not acknowledged them all
    assert.ok(outstanding > 0, `nothing outstanding at the kill (${group.items.length} acknowledged)`)

    // meanwhile its adopted session, offline, is a member of the group on B too
    if (comesBack === 'once adopted')
      await firstLogged([b], /"node":"a"[^\n]*"msg":"cluster: adopting the sessions of a dead worker"/)
    let back: ReturnType<typeof slowSubscriber> | undefined
    if (comesBack !== 'never') {
      const returning = slowSubscriber(b.url, options(`${id}-1`), 0, group)
      back = returning
      t.after(() => returning.client.endAsync(true))
      assert.equal((await returning.connack).sessionPresent, true)
    }

    // each acknowledged message once at least (a second copy may come: QoS 1 is at least once)
    const { missing, twice } = await reachedNoMember(group, acked, 45_000)
    t.diagnostic(
      `acknowledged ${acked.length}; outstanding at the kill ${outstanding} (in flight to A's member ${inFlight.length}); A's member before the kill ${beforeKill}; B's member ${other.received.items.length}; A's member after its return ${back?.received.items.length ?? '-'}; twice ${twice}; missing ${missing.length}`,
    )
    assert.deepEqual(
      missing,
      [],
      `${missing.length} of ${acked.length} acknowledged messages reached no member`,
    )
  })
}

test('a live member that holds share group messages longer than the group consumer waits (deadWorkerAfterMs) keeps them: its worker reports progress, and no message reaches two members [5.0 §4.8.2]', {
  skip,
}, async (t) => {
  // the consumer delivers a message again 3 s after its last news from the holding worker
  const { a, b } = await twoNodes(t, { deadWorkerAfterMs: 3000, consumerIdleMs: 6000 }, 1)
  const filter = '$share/g/held/#'
  const group = new WaitList<Got>()
  // about half of 300 messages at 100 ms each: held on A for several times the 3 s
  const first = slowSubscriber(a.url, { clientId: 'held-1', ...v5 }, 100, group)
  t.after(() => first.client.endAsync(true))
  await first.connack
  await first.client.subscribeAsync(filter, { qos: 1 })
  const other = slowSubscriber(b.url, { clientId: 'held-2', ...v5 }, 0, group)
  t.after(() => other.client.endAsync(true))
  await other.connack
  await other.client.subscribeAsync(filter, { qos: 1 })
  const pub = await connectClient(b.url, { clientId: 'held-pub' })
  t.after(() => pub.end())
  const total = 300
  for (let i = 0; i < total; i++) await pub.client.publishAsync('held/t', `m${i}`, { qos: 1 })
  const items = group.items
  await group.waitForCount(
    (g) => items.find((x) => x.payload === g.payload) === g,
    total,
    60_000,
    () => `${new Set(items.map((g) => g.payload)).size} of ${total} arrived`,
  )
  // a second copy is made while A still holds the message, and B's fast member takes it at once
  const twice = items.length - new Set(items.map((g) => g.payload)).size
  t.diagnostic(
    `A's member ${first.received.items.length}, B's member ${other.received.items.length}, twice ${twice}`,
  )
  // at 100 ms each: its last one waited twice the 3 s at least
  assert.ok(first.received.items.length > 60, `A's member took ${first.received.items.length}`)
  assert.equal(twice, 0, `${twice} messages reached two members`)
})

test('a share group member whose session ends on a live node (v5, no session expiry, its client gone) gives the QoS 1 messages it held back to the group: every acknowledged message reaches some member [5.0 §4.8.2]', {
  skip,
}, async (t) => {
  const { a, b } = await twoNodes(t, cluster)
  const filter = '$share/g/ends/#'
  const group = new WaitList<Got>()
  // the member on A acknowledges slowly: messages pile up in flight and queued for it there
  const first = slowSubscriber(a.url, { clientId: 'ends-1', ...v5clean }, 20, group)
  await first.connack
  await first.client.subscribeAsync(filter, { qos: 1 })
  const other = slowSubscriber(b.url, { clientId: 'ends-2', ...v5clean }, 0, group)
  t.after(() => other.client.endAsync(true))
  await other.connack
  await other.client.subscribeAsync(filter, { qos: 1 })
  const pub = await connectClient(b.url, { clientId: 'ends-pub' })
  t.after(() => pub.end())
  const acked: string[] = []
  const total = 400
  let held: string[] = []
  let outstanding = 0
  for (let i = 0; i < total; i++) {
    if (i === total / 2) {
      held = first.freeze()
      outstanding = i - group.items.length
      // the connection goes without a DISCONNECT: with no session expiry its session ends with it
      first.client.stream.destroy()
    }
    await pub.client.publishAsync('ends/t', `m${i}`, { qos: 1 })
    acked.push(`m${i}`)
  }
  assert.ok(outstanding > 0, 'the member on A held nothing when its session ended')
  const { missing } = await reachedNoMember(group, acked, 30_000)
  t.diagnostic(
    `acknowledged ${acked.length}; outstanding when A's member went ${outstanding} (in flight ${held.length}); A's member ${first.received.items.length}; B's member ${other.received.items.length}; missing ${missing.length}`,
  )
  assert.deepEqual(
    missing,
    [],
    `${missing.length} of ${acked.length} acknowledged messages reached no member`,
  )
  // `outstanding` also counts messages still on their way to B's member when A's went, and which of
  // B's later arrivals were those is not observable, so the count is only checked to be there (a
  // live node that does not give back keeps holding: missing above is the guard)
  const givenBack = await counterOf(a, 'mqttd_cluster_shared_given_back_total')
  t.diagnostic(`A gave back ${givenBack} of ${outstanding} outstanding`)
  assert.ok(givenBack > 0, 'A gave nothing back')
})
