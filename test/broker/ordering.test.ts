/**
 * The ordering rule across workers: if the server has read a SUBSCRIBE before
 * it reads a PUBLISH, on any connections, the publish is routed to that
 * subscription, and nothing is delivered after an UNSUBSCRIBE was read. Each
 * round sends the (UN)SUBSCRIBE on one worker without waiting for its
 * acknowledgement and the PUBLISH ~1 ms later on the other worker, then a
 * sentinel publish that the subscriber already holds a subscription for: the
 * round's message, when routed, arrives before the sentinel (same publisher,
 * same pair of workers, in order), so "missed" is decided without a sleep.
 */
import assert from 'node:assert/strict'
import type { TestContext } from 'node:test'
import { test } from 'node:test'
import { BroadcastChannel } from 'node:worker_threads'
import { type ReadEvent, readOrderChannel } from './fixtures/read-order.ts'
import { connectClient, connectOn, delay, startBroker, type TestClient } from './helpers.ts'

const ROUNDS = 1000

/** When the server read each (UN)SUBSCRIBE and PUBLISH of the rounds (the read-order fixture). */
class ReadTimes {
  readonly #times = new Map<string, bigint>()
  readonly #waiters = new Map<string, () => void>()
  readonly #channel = new BroadcastChannel(readOrderChannel)

  constructor(t: TestContext) {
    this.#channel.onmessage = (event) => {
      const e = (event as { data: ReadEvent }).data
      for (const topic of e.topics) {
        const key = `${e.kind} ${topic}`
        this.#times.set(key, e.at)
        this.#waiters.get(key)?.()
      }
    }
    t.after(() => this.#channel.close())
  }

  async get(kind: ReadEvent['kind'], topic: string): Promise<bigint> {
    const key = `${kind} ${topic}`
    for (;;) {
      const at = this.#times.get(key)
      if (at !== undefined) return at
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`server never read ${key}`)), 10_000)
        this.#waiters.set(key, () => {
          clearTimeout(timer)
          resolve()
        })
      })
    }
  }
}

async function pair(t: TestContext): Promise<{ sub: TestClient; pub: TestClient; reads: ReadTimes }> {
  const reads = new ReadTimes(t)
  // every round adds a subscription to one session: above the default per-client quota (1000)
  const server = await startBroker(t, {
    handlers: ['./broker/fixtures/read-order.ts'],
    config: { limits: { maxSubscriptionsPerClient: 2 * ROUNDS + 10 } },
  })
  const sub = await connectClient(t, server, { protocolVersion: 5, clientId: 'order-sub' })
  const pub = await connectOn(t, server, (w) => w !== sub.worker, {
    protocolVersion: 5,
    clientId: 'order-pub',
  })
  assert.notEqual(pub.worker, sub.worker)
  await sub.client.subscribeAsync('sentinel', { qos: 0 })
  return { sub, pub, reads }
}

/** Publishes the round's message and a sentinel behind it; resolves with whether the message arrived first. */
async function publishAndSettle(
  sub: TestClient,
  pub: TestClient,
  topic: string,
  i: number,
): Promise<boolean> {
  pub.client.publish(topic, `m${i}`, { qos: 0 })
  pub.client.publish('sentinel', `s${i}`, { qos: 0 })
  await sub.inbox.waitFor(i + 1, 10_000, (p) => p.topic === 'sentinel')
  return sub.inbox.packets.some((p) => p.topic === topic)
}

const kinds = [
  { name: 'plain', topic: (i: number) => `order/plain/${i}/x`, filter: (i: number) => `order/plain/${i}/x` },
  { name: 'wildcard', topic: (i: number) => `order/wild/${i}/x`, filter: (i: number) => `order/wild/${i}/+` },
  {
    name: 'shared',
    topic: (i: number) => `order/shared/${i}/x`,
    filter: (i: number) => `$share/g${i}/order/shared/${i}/x`,
  },
] as const

/*
 * A round in which the other worker read the PUBLISH first (a stall of the
 * subscriber's worker on a busy machine) says nothing about the rule; it is
 * counted, and at least half of the rounds must be in the right order.
 */
for (const kind of kinds) {
  test(`${kind.name} subscription: a SUBSCRIBE read on one worker before a PUBLISH read on another routes it (${ROUNDS} rounds, PUBLISH ~1 ms after SUBSCRIBE, no SUBACK awaited)`, async (t) => {
    const { sub, pub, reads } = await pair(t)
    /** For each miss, how long (µs) after the SUBSCRIBE the PUBLISH was read. */
    const missed: number[] = []
    let inOrder = 0
    for (let i = 0; i < ROUNDS; i++) {
      const topic = kind.topic(i)
      sub.client.subscribe(kind.filter(i), { qos: 0 })
      await delay(1)
      const got = await publishAndSettle(sub, pub, topic, i)
      const subscribedAt = await reads.get('subscribe', kind.filter(i))
      const publishedAt = await reads.get('publish', topic)
      if (subscribedAt >= publishedAt) continue
      inOrder++
      if (!got) missed.push(Number(publishedAt - subscribedAt) / 1000)
    }
    assert.ok(inOrder >= ROUNDS / 2, `only ${inOrder} of ${ROUNDS} rounds had the SUBSCRIBE read first`)
    assert.deepEqual(
      missed,
      [],
      `${missed.length} of ${inOrder} publishes missed the subscription read before them`,
    )
  })
}

test(`unsubscribe: nothing is delivered from a PUBLISH read on another worker after the UNSUBSCRIBE was read (${ROUNDS} rounds, ~1 ms apart)`, async (t) => {
  const { sub, pub, reads } = await pair(t)
  const delivered: number[] = []
  let inOrder = 0
  for (let i = 0; i < ROUNDS; i++) {
    const topic = `order/unsub/${i}/x`
    const filter = i % 2 === 0 ? topic : `order/unsub/${i}/+`
    await sub.client.subscribeAsync(filter, { qos: 0 })
    sub.client.unsubscribe(filter)
    await delay(1)
    const got = await publishAndSettle(sub, pub, topic, i)
    const unsubscribedAt = await reads.get('unsubscribe', filter)
    const publishedAt = await reads.get('publish', topic)
    if (unsubscribedAt >= publishedAt) continue
    inOrder++
    if (got) delivered.push(i)
  }
  assert.ok(inOrder >= ROUNDS / 2, `only ${inOrder} of ${ROUNDS} rounds had the UNSUBSCRIBE read first`)
  assert.deepEqual(delivered, [], `${delivered.length} of ${inOrder} publishes delivered after UNSUBSCRIBE`)
})
