import assert from 'node:assert/strict'
import { test } from 'node:test'
import { Backpressure, type Held } from '../../src/broker/backpressure.ts'
import type { ClusterMessage } from '../../src/broker/cluster.ts'
import { Session } from '../../src/broker/session.ts'

function pair(credit: number, waitMs = 5000) {
  const wire: ClusterMessage[] = []
  const a = new Backpressure({ self: 1, send: (_to, m) => wire.push(m), waitMs, credit })
  const b = new Backpressure({ self: 2, send: (_to, m) => wire.push(m), waitMs, credit })
  /** Delivers what b posted to a. */
  const deliver = async () => {
    await new Promise((resolve) => setImmediate(resolve))
    for (const m of wire.splice(0)) if (m.t === 'pub-ok') a.confirmed(m.from, m.ids)
  }
  return { a, b, deliver }
}

test('publish credit: within the credit a cross-worker publish does not wait; beyond it, it waits for its own confirmation', async () => {
  const { a, b, deliver } = pair(2)
  const held: Held[] = []
  const ids: number[] = []
  for (let i = 0; i < 3; i++) {
    const h: Held = { sessions: [] }
    ids.push(a.track([2], h))
    held.push(h)
  }
  assert.equal(held[0]!.remote, undefined)
  assert.equal(held[1]!.remote, undefined)
  assert.notEqual(held[2]!.remote, undefined)
  assert.equal(a.unconfirmed(2), 3)
  let done = false
  const waiting = a.wait(held[2]!).then(() => {
    done = true
  })
  // the receiver confirms the first two: the third still waits
  b.received(1, ids[0]!, [])
  b.received(1, ids[1]!, [])
  await deliver()
  await Promise.resolve()
  assert.equal(done, false)
  b.received(1, ids[2]!, [])
  await deliver()
  await waiting
  assert.equal(a.unconfirmed(2), 0)
})

test('publish credit: a message that reached a congested session is confirmed once the session is relieved; a peer that left confirms nothing and releases the waiters', async () => {
  const { a, b, deliver } = pair(0)
  const session = new Session(
    's',
    0,
    { maxQueuedMessages: 10, maxPendingWrites: 10, highWater: 2, lowWater: 1 },
    () => {},
  )
  session.attach({
    send: async () => true,
    protocolVersion: 4,
    receiveMaximum: 1,
    topicAliasMaximum: 0,
    maximumPacketSize: undefined,
  })
  const message = {
    topic: 't',
    payload: Buffer.from('x'),
    qos: 1 as const,
    retain: false,
    properties: undefined,
    expiresAt: undefined,
    origin: 'p',
  }
  for (let i = 0; i < 3; i++)
    session.deliver({ message, qos: 1, retain: false, subscriptionIds: undefined }, Date.now())
  assert.equal(session.congested, true)
  const held: Held = { sessions: [] }
  const id = a.track([2], held)
  b.received(1, id, [session])
  await deliver()
  assert.equal(a.unconfirmed(2), 1)
  session.detach()
  await Promise.resolve()
  await deliver()
  assert.equal(a.unconfirmed(2), 0)

  const other: Held = { sessions: [] }
  a.track([2, 3], other)
  const waiting = a.wait(other)
  a.forget(2)
  a.forget(3)
  await waiting
  assert.equal(a.unconfirmed(2), 0)
})

test('publish credit: a publish waits at most waitMs for a peer that does not confirm', async () => {
  const { a } = pair(0, 30)
  const held: Held = { sessions: [] }
  a.track([2], held)
  const started = Date.now()
  await a.wait(held)
  assert.ok(Date.now() - started >= 25)
  assert.equal(a.unconfirmed(2), 1)
})
