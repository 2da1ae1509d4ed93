import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { IPublishPacket, Packet } from 'mqtt-packet'
import type { BrokerMessage } from '../../src/broker/message.ts'
import { PacketIdAllocator } from '../../src/broker/packet-ids.ts'
import { type Delivery, Session, type SessionLink } from '../../src/broker/session.ts'

function message(
  topic: string,
  payload: string,
  qos: 0 | 1 | 2 = 1,
  extra: Partial<BrokerMessage> = {},
): BrokerMessage {
  return {
    topic,
    payload: Buffer.from(payload),
    qos,
    retain: false,
    properties: undefined,
    expiresAt: undefined,
    origin: 'pub',
    ...extra,
  }
}

function delivery(m: BrokerMessage, qos: 0 | 1 | 2 = m.qos): Delivery {
  return { message: m, qos, retain: false, subscriptionIds: undefined }
}

interface FakeLink extends SessionLink {
  sent: Packet[]
}

function link(overrides: Partial<SessionLink> = {}): FakeLink {
  const sent: Packet[] = []
  return {
    sent,
    send: async (p: Packet) => {
      sent.push(p)
      return true
    },
    protocolVersion: 5,
    receiveMaximum: 65535,
    topicAliasMaximum: 0,
    maximumPacketSize: undefined,
    ...overrides,
  }
}

function newSession(drops: string[] = [], limits = { maxQueuedMessages: 10, maxPendingWrites: 10 }): Session {
  return new Session('c1', 0, limits, (r) => drops.push(r))
}

const publishes = (l: FakeLink) => l.sent.filter((p): p is IPublishPacket => p.cmd === 'publish')

test('[3.1.1 MQTT-2.3.1-1] packet ids: non-zero, unique while in use, reused after release, wrap at 65535', () => {
  const ids = new PacketIdAllocator()
  const seen = new Set<number>()
  for (let i = 0; i < 65535; i++) {
    const id = ids.allocate()!
    assert.ok(id >= 1 && id <= 65535)
    assert.equal(seen.has(id), false)
    seen.add(id)
  }
  assert.equal(ids.allocate(), undefined)
  ids.release(42)
  assert.equal(ids.allocate(), 42)
  ids.release(7)
  ids.release(9)
  assert.equal(ids.allocate(), 7)
})

test('[5.0 MQTT-3.3.4-9] never more unacknowledged QoS 1/2 messages in flight than the receive maximum; acks release the window', async () => {
  const session = newSession()
  const l = link({ receiveMaximum: 2 })
  session.attach(l)
  for (let i = 0; i < 5; i++) session.deliver(delivery(message('t', `m${i}`)), Date.now())
  assert.equal(publishes(l).length, 2)
  assert.equal(session.inflightCount, 2)
  assert.equal(session.queuedCount, 3)
  const [first] = publishes(l)
  session.acknowledge('puback', first!.messageId!, undefined)
  assert.equal(publishes(l).length, 3)
  assert.deepEqual(
    publishes(l).map((p) => String(p.payload)),
    ['m0', 'm1', 'm2'],
  )
})

test('[3.1.1 MQTT-4.3.3-1] [5.0 MQTT-4.3.3-4] [5.0 MQTT-4.3.3-5] QoS 2 outbound: PUBREC answered with PUBREL, PUBCOMP frees the id; a repeated PUBREC gets PUBREL again', () => {
  const session = newSession()
  const l = link()
  session.attach(l)
  session.deliver(delivery(message('t', 'x', 2)), Date.now())
  const id = publishes(l)[0]!.messageId!
  session.acknowledge('pubrec', id, undefined)
  assert.deepEqual(l.sent.at(-1), { cmd: 'pubrel', messageId: id })
  session.acknowledge('pubrec', id, undefined)
  assert.deepEqual(l.sent.at(-1), { cmd: 'pubrel', messageId: id })
  assert.equal(session.inflightCount, 1)
  session.acknowledge('pubcomp', id, undefined)
  assert.equal(session.inflightCount, 0)
  // [5.0 MQTT-4.4.0-2] PUBREC >= 0x80 ends the exchange without PUBREL
  session.deliver(delivery(message('t', 'y', 2)), Date.now())
  const id2 = publishes(l)[1]!.messageId!
  const before = l.sent.length
  session.acknowledge('pubrec', id2, 0x80)
  assert.equal(l.sent.length, before)
  assert.equal(session.inflightCount, 0)
})

test('[3.1.1 MQTT-4.4.0-1] [5.0 MQTT-4.4.0-1] [3.1.1 MQTT-3.3.1-1] [5.0 MQTT-3.3.1-1] on resume: unacknowledged PUBLISH resent with DUP and original ids, then PUBREL, then the queue', () => {
  const session = newSession()
  const l1 = link()
  session.attach(l1)
  session.deliver(delivery(message('t', 'a', 1)), Date.now())
  session.deliver(delivery(message('t', 'b', 2)), Date.now())
  const [a, b] = publishes(l1)
  session.acknowledge('pubrec', b!.messageId!, undefined)
  session.detach()
  // [3.1.1 MQTT-3.1.2-5] offline: QoS 1/2 queued, QoS 0 dropped
  const drops: string[] = []
  session.deliver(delivery(message('t', 'c', 1)), Date.now())
  assert.equal(session.queuedCount, 1)
  const l2 = link()
  session.attach(l2)
  assert.equal(l2.sent[0]!.cmd, 'publish')
  const resent = l2.sent[0] as IPublishPacket
  assert.equal(resent.dup, true)
  assert.equal(resent.messageId, a!.messageId)
  assert.deepEqual(l2.sent[1], { cmd: 'pubrel', messageId: b!.messageId })
  const fresh = l2.sent[2] as IPublishPacket
  assert.equal(String(fresh.payload), 'c')
  assert.equal(fresh.dup, false)
  assert.notEqual(fresh.messageId, a!.messageId)
  assert.notEqual(fresh.messageId, b!.messageId)
  assert.deepEqual(drops, [])
})

test('bounded queue: QoS 1/2 beyond maxQueuedMessages and QoS 0 to an offline session are dropped and counted', () => {
  const drops: string[] = []
  const session = newSession(drops, { maxQueuedMessages: 2, maxPendingWrites: 10 })
  for (let i = 0; i < 4; i++) session.deliver(delivery(message('t', `m${i}`)), Date.now())
  session.deliver(delivery(message('t', 'q0', 0)), Date.now())
  assert.equal(session.queuedCount, 2)
  assert.deepEqual(drops, ['queue_full', 'queue_full', 'client_offline'])
})

test('slow consumer: QoS 0 dropped once maxPendingWrites sends are unresolved', async () => {
  const drops: string[] = []
  const session = newSession(drops, { maxQueuedMessages: 10, maxPendingWrites: 3 })
  const resolvers: (() => void)[] = []
  const sent: Packet[] = []
  session.attach({
    ...link(),
    send: (p) => {
      sent.push(p)
      return new Promise((resolve) => resolvers.push(() => resolve(true)))
    },
  })
  for (let i = 0; i < 5; i++) session.deliver(delivery(message('t', `m${i}`, 0)), Date.now())
  assert.equal(sent.length, 3)
  assert.deepEqual(drops, ['slow_consumer', 'slow_consumer'])
  for (const r of resolvers) r()
  await new Promise((r) => setImmediate(r))
  session.deliver(delivery(message('t', 'later', 0)), Date.now())
  assert.equal(sent.length, 4)
})

test('[5.0 MQTT-3.3.2-5] [5.0 MQTT-3.3.2-6] expired messages are not delivered; others carry the remaining expiry interval', () => {
  const drops: string[] = []
  const session = newSession(drops)
  const l = link()
  session.attach(l)
  const now = Date.now()
  session.deliver(delivery(message('t', 'old', 1, { expiresAt: now - 1 })), now)
  session.deliver(delivery(message('t', 'new', 1, { expiresAt: now + 9_500 })), now)
  assert.deepEqual(drops, ['expired'])
  const [p] = publishes(l)
  assert.equal(String(p!.payload), 'new')
  const remaining = p!.properties!.messageExpiryInterval!
  assert.ok(remaining >= 9 && remaining <= 10, String(remaining))
})

test('[5.0 MQTT-3.1.2-26] [5.0 MQTT-3.1.2-27] outbound topic aliases only when allowed, within the maximum', () => {
  const none = link({ topicAliasMaximum: 0 })
  const s1 = newSession()
  s1.attach(none)
  s1.deliver(delivery(message('a/b', '1', 0)), Date.now())
  assert.equal(publishes(none)[0]!.properties?.topicAlias, undefined)

  const two = link({ topicAliasMaximum: 2 })
  const s2 = newSession()
  s2.attach(two)
  for (const t of ['x', 'x', 'y', 'z', 'y']) s2.deliver(delivery(message(t, t, 0)), Date.now())
  const ps = publishes(two)
  assert.deepEqual(
    ps.map((p) => [p.topic, p.properties?.topicAlias]),
    [
      ['x', 1],
      ['', 1],
      ['y', 2],
      ['z', undefined],
      ['', 2],
    ],
  )
  // v3.1.1 clients never get properties
  const v4 = link({ protocolVersion: 4, topicAliasMaximum: 5 })
  const s3 = newSession()
  s3.attach(v4)
  s3.deliver(delivery(message('x', 'x', 1)), Date.now())
  assert.equal(publishes(v4)[0]!.properties, undefined)
})

test('[5.0 MQTT-3.1.2-24] [5.0 MQTT-3.1.2-25] a message larger than the client maximum packet size is discarded as if delivered', () => {
  const drops: string[] = []
  const session = newSession(drops)
  const l = link({ maximumPacketSize: 100, receiveMaximum: 1 })
  session.attach(l)
  session.deliver(delivery(message('t', 'x'.repeat(200))), Date.now())
  session.deliver(delivery(message('t', 'x'.repeat(40))), Date.now())
  // near the limit: measured exactly
  session.deliver(delivery(message('t', 'x'.repeat(95))), Date.now())
  assert.deepEqual(drops, ['packet_too_large'])
  assert.equal(publishes(l).length, 1)
  assert.equal(session.inflightCount, 1)
  session.acknowledge('puback', publishes(l)[0]!.messageId!, undefined)
  assert.ok(drops.length === 2 && drops[1] === 'packet_too_large')
  assert.equal(session.inflightCount, 0)
})

test('session snapshot round-trips subscriptions, in-flight ids and queue', () => {
  const session = newSession()
  session.setSubscription('a/#', { qos: 1, nl: false, rap: false, rh: 0, subscriptionId: 3 })
  const l = link({ receiveMaximum: 1 })
  session.attach(l)
  session.deliver(delivery(message('a/1', 'one')), Date.now())
  session.deliver(delivery(message('a/2', 'two')), Date.now())
  session.detach()
  const snap = structuredClone(session.snapshot())
  const moved = Session.fromSnapshot(snap, { maxQueuedMessages: 10, maxPendingWrites: 10 }, () => {})
  assert.deepEqual([...moved.subscriptions.keys()], ['a/#'])
  const l2 = link({ receiveMaximum: 1 })
  moved.attach(l2)
  const [again] = publishes(l2)
  assert.equal(again!.dup, true)
  assert.equal(again!.messageId, publishes(l)[0]!.messageId)
  moved.acknowledge('puback', again!.messageId!, undefined)
  assert.equal(String(publishes(l2)[1]!.payload), 'two')
})

test('[3.1.1 MQTT-4.4.0-1] [5.0 MQTT-4.4.0-1] resume on a link with a smaller maximum packet size: a resend that no longer fits is discarded, the queue moves up, nothing is sent twice', () => {
  const drops: string[] = []
  const session = newSession(drops)
  const l1 = link({ receiveMaximum: 1 })
  session.attach(l1)
  session.deliver(delivery(message('t', 'x'.repeat(300))), Date.now())
  session.deliver(delivery(message('t', 'small')), Date.now())
  session.detach()
  const l2 = link({ receiveMaximum: 1, maximumPacketSize: 100 })
  session.attach(l2)
  assert.deepEqual(drops, ['packet_too_large'])
  assert.deepEqual(
    publishes(l2).map((p) => [String(p.payload), p.dup]),
    [['small', false]],
  )
})

function pressured(events: boolean[], stallMs = 0): Session {
  return new Session(
    'c1',
    0,
    {
      maxQueuedMessages: 10,
      maxPendingWrites: 10,
      highWater: 4,
      lowWater: 2,
      stallMs,
      onCongestion: (_s, on) => events.push(on),
    },
    () => {},
  )
}

test('backpressure: an online session is congested once its queue reaches the high-water mark, relieved at the low-water mark', async () => {
  const events: boolean[] = []
  const session = pressured(events)
  const l = link({ receiveMaximum: 1 })
  session.attach(l)
  let relieved = false
  for (let i = 0; i < 4; i++) session.deliver(delivery(message('t', `m${i}`)), Date.now())
  assert.equal(session.queuedCount, 3)
  assert.equal(session.congested, false)
  session.deliver(delivery(message('t', 'm4')), Date.now())
  assert.equal(session.congested, true)
  assert.deepEqual(events, [true])
  void session.whenRelieved().then(() => {
    relieved = true
  })
  // each PUBACK frees the window for one queued message: 4 → 3 → 2 (low water)
  session.acknowledge('puback', publishes(l).at(-1)!.messageId!, 0)
  await Promise.resolve()
  assert.equal(relieved, false)
  assert.equal(session.congested, true)
  session.acknowledge('puback', publishes(l).at(-1)!.messageId!, 0)
  assert.equal(session.queuedCount, 2)
  assert.equal(session.congested, false)
  await Promise.resolve()
  assert.equal(relieved, true)
  assert.deepEqual(events, [true, false])
})

test('backpressure: an offline session is never congested (its queue is capped, drops counted); going offline relieves', async () => {
  const events: boolean[] = []
  const offline = pressured(events)
  for (let i = 0; i < 8; i++) offline.deliver(delivery(message('t', `m${i}`)), Date.now())
  assert.equal(offline.congested, false)
  const session = pressured(events)
  session.attach(link({ receiveMaximum: 1 }))
  for (let i = 0; i < 6; i++) session.deliver(delivery(message('t', `m${i}`)), Date.now())
  assert.equal(session.congested, true)
  const relieved = session.whenRelieved()
  session.detach()
  assert.equal(session.congested, false)
  await relieved
  assert.deepEqual(events, [true, false])
})

test('backpressure: a congested session that acknowledges nothing for stallMs stops holding publishers back until it drained', async () => {
  const events: boolean[] = []
  const session = pressured(events, 50)
  const l = link({ receiveMaximum: 1 })
  session.attach(l)
  for (let i = 0; i < 6; i++) session.deliver(delivery(message('t', `m${i}`)), Date.now())
  assert.equal(session.congested, true)
  await session.whenRelieved()
  assert.equal(session.congested, false)
  // stalled: more messages do not make it congested again
  session.deliver(delivery(message('t', 'm6')), Date.now())
  assert.equal(session.congested, false)
  // once it drained to the low-water mark it may press again
  for (let i = 0; i < 4; i++) session.acknowledge('puback', publishes(l).at(-1)!.messageId!, 0)
  assert.equal(session.queuedCount, 2)
  for (let i = 0; i < 2; i++) session.deliver(delivery(message('t', `n${i}`)), Date.now())
  assert.equal(session.congested, true)
  session.clear()
  assert.equal(session.congested, false)
  assert.deepEqual(events, [true, false, true, false])
})

test('a session catching up after a move between nodes: the intake skips, parks or passes each delivery; the parked ones follow in order, holding their stream acknowledgement until the session lets go', () => {
  const session = new Session('c1', 300, { maxQueuedMessages: 10, maxPendingWrites: 10 }, () => {})
  const l = link()
  session.attach(l)
  const verdicts = new Map<string, 'skip' | 'park' | 'pass'>([
    ['had', 'skip'],
    ['live1', 'park'],
    ['live2', 'park'],
    ['owed', 'pass'],
  ])
  session.pause((d) => verdicts.get(Buffer.from(d.message.payload).toString())!)
  const acked: string[] = []
  const held = (name: string) => ({ count: 1, release: () => acked.push(name) })
  for (const name of ['had', 'live1', 'live2', 'owed']) {
    const hold = held(name)
    session.deliver({ ...delivery(message('t', name, 1, { id: name })), hold }, Date.now())
    if (--hold.count === 0) hold.release()
  }
  // skipped: nothing holds it; parked: the session does, while it waits
  assert.deepEqual(acked, ['had'])
  assert.deepEqual(
    publishes(l).map((p) => p.payload.toString()),
    ['owed'],
  )
  // live1 came over the stream to the old node already: dropped
  session.resume((d) => d.message.id !== 'live1')
  assert.deepEqual(acked, ['had', 'live1'])
  assert.deepEqual(
    publishes(l).map((p) => p.payload.toString()),
    ['owed', 'live2'],
  )
  // from here on every delivery goes straight in
  session.deliver(delivery(message('t', 'after')), Date.now())
  assert.deepEqual(
    publishes(l).map((p) => p.payload.toString()),
    ['owed', 'live2', 'after'],
  )
  const [live2] = publishes(l).filter((p) => p.payload.toString() === 'live2')
  session.acknowledge('puback', live2!.messageId!, undefined)
  assert.deepEqual(acked, ['had', 'live1', 'live2'])
})

test('a session given up while catching up takes its parked deliveries along, behind its queue', () => {
  const session = new Session('c1', 300, { maxQueuedMessages: 10, maxPendingWrites: 10 }, () => {})
  session.deliver(delivery(message('t', 'queued')), Date.now())
  session.pause(() => 'park')
  session.deliver(delivery(message('t', 'parked')), Date.now())
  const snapshot = session.snapshot()
  assert.deepEqual(
    snapshot.queue.map((d) => Buffer.from(d.message.payload).toString()),
    ['queued', 'parked'],
  )
})

test('a session without subscriptions shares one empty map; set and delete go through the session', () => {
  const a = newSession()
  const b = newSession()
  // structure: no Map per session until it subscribes (an idle server's sessions mostly do not)
  assert.equal(a.subscriptions.size, 0)
  assert.equal(a.subscriptions, b.subscriptions)
  const sub = { qos: 1 as const, nl: false, rap: false, rh: 0, subscriptionId: undefined }
  a.setSubscription('a/#', sub)
  a.setSubscription('b', { ...sub, qos: 0 })
  assert.notEqual(a.subscriptions, b.subscriptions)
  assert.deepEqual([...a.subscriptions.keys()], ['a/#', 'b'])
  assert.equal(b.subscriptions.size, 0, 'the shared empty map stays empty')
  assert.equal(a.deleteSubscription('nope'), false)
  assert.equal(a.deleteSubscription('a/#'), true)
  assert.equal(a.deleteSubscription('b'), true)
  assert.equal(a.deleteSubscription('b'), false)
  assert.equal(a.subscriptions, b.subscriptions, 'the last delete drops the map')
})

test('a session that ends gives its share group messages back unacknowledged, except a QoS 2 one already sent [5.0 §4.8.2] [5.0 MQTT-4.8.2-5]', () => {
  const session = new Session('c1', 0, { maxQueuedMessages: 10, maxPendingWrites: 10 }, () => {})
  const l = link({ receiveMaximum: 2 })
  session.attach(l)
  const released: string[] = []
  const givenBack: string[] = []
  const shared = (name: string) => ({
    count: 1,
    always: true,
    release: () => released.push(name),
    giveBack: () => givenBack.push(name),
  })
  // two in flight (the window), two queued
  for (const [name, qos] of [
    ['sent-1', 1],
    ['sent-2', 2],
    ['queued-1', 1],
    ['queued-2', 2],
  ] as const) {
    const hold = shared(name)
    session.deliver({ ...delivery(message('t', name, qos), qos), hold }, Date.now())
    if (--hold.count === 0) hold.release()
  }
  // without a session expiry a plain stream message is not held at all (no one else would take it)
  const plain = { count: 1, release: () => released.push('plain') }
  session.deliver({ ...delivery(message('t', 'plain')), hold: plain }, Date.now())
  if (--plain.count === 0) plain.release()
  assert.deepEqual(released, ['plain'])
  assert.deepEqual(
    publishes(l).map((p) => p.payload.toString()),
    ['sent-1', 'sent-2'],
  )
  session.clear()
  assert.deepEqual(givenBack, ['sent-1', 'queued-1', 'queued-2'])
  assert.deepEqual(released, ['plain', 'sent-2'])
})
