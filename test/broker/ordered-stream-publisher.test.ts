// The order a worker's QoS 1/2 messages are stored in JetStream across a NATS outage, against an
// in-memory stand-in for the NATS client and the stream (what it loses and buffers is modelled on
// @nats-io/nats-core: requests written into a connection that dies get no answer, requests made
// while it reconnects are buffered and written first on the new connection).
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { headers } from '@nats-io/transport-node'
import { OrderedStreamPublisher } from '../../src/broker/ordered-stream-publisher.ts'

interface Request {
  id: string
  resolve: (ack: { seq: number; duplicate: boolean }) => void
  reject: (err: Error) => void
}

class FakeJetStream {
  up = true
  /** Message ids in the order the stream stored them (one copy per id: Nats-Msg-Id). */
  readonly stored: string[] = []
  /** Message ids in the order they reached the server. */
  readonly sent: string[] = []
  #inflight: Request[] = []
  #buffered: Request[] = []
  #waiters: (() => void)[] = []

  readonly publish = (
    _subject: string,
    _payload: Uint8Array,
    options: { msgID: string },
  ): Promise<{ seq: number; duplicate: boolean }> =>
    new Promise((resolve, reject) => {
      const request = { id: options.msgID, resolve, reject }
      if (this.up) this.#receive(request)
      else this.#buffered.push(request)
    })

  #receive(request: Request): void {
    this.sent.push(request.id)
    this.#inflight.push(request)
    for (const w of this.#waiters.splice(0)) w()
  }

  /** Resolves once `n` requests reached the server in all. */
  async sends(n: number): Promise<void> {
    while (this.sent.length < n) await new Promise<void>((resolve) => this.#waiters.push(resolve))
  }

  /** The stream stores the first `count` requests that reached it and answers (or, `lost`, the answers do not come back). */
  answer(lost = false, count = Number.POSITIVE_INFINITY): void {
    for (const r of this.#inflight.splice(0, count)) {
      const duplicate = this.stored.includes(r.id)
      if (!duplicate) this.stored.push(r.id)
      if (!lost) r.resolve({ seq: this.stored.indexOf(r.id) + 1, duplicate })
    }
  }

  /** The stream refuses what reached it (JetStream's 503 while it has no leader). */
  refuse(): void {
    for (const r of this.#inflight.splice(0)) r.reject(new Error('503 no responders'))
  }

  /** The connection dies: requests in it are lost (their answers never come); returns them. */
  drop(): Request[] {
    this.up = false
    return this.#inflight.splice(0)
  }

  /** The connection is back: what the client buffered meanwhile is written first. */
  restore(): void {
    this.up = true
    for (const r of this.#buffered.splice(0)) this.#receive(r)
  }
}

function publisher(js: FakeJetStream, timeoutMs = 60_000): OrderedStreamPublisher {
  return new OrderedStreamPublisher({ publish: js.publish, timeoutMs, retryMs: 1 })
}

const publish = (p: OrderedStreamPublisher, id: string) =>
  p.publish('q.t', new Uint8Array([1]), headers(), id)

test('[3.1.1 MQTT-4.6.0-5] [5.0 MQTT-4.6.0-5] publishes lost with the NATS connection are stored again before any made during the outage, each once', async () => {
  const js = new FakeJetStream()
  const p = publisher(js)
  const results = [publish(p, 'm1'), publish(p, 'm2'), publish(p, 'm3')]
  await js.sends(3)
  // m1 reached the stream but its answer is lost with the connection; m2 and m3 are lost on the way
  js.answer(true, 1)
  const lost = js.drop()
  p.disconnected()
  results.push(publish(p, 'm4'), publish(p, 'm5'))
  js.restore()
  p.reconnected()
  // the lost requests time out later: stale, they change nothing
  for (const r of lost) r.reject(new Error('timeout'))
  await js.sends(7)
  js.answer()
  assert.deepEqual(await Promise.all(results), [true, true, true, true, true])
  assert.deepEqual(js.stored, ['m1', 'm2', 'm3', 'm4', 'm5'])
})

test('[5.0 MQTT-4.6.0-5] a publish refused while connected holds the ones made after it until it is sent again', async () => {
  const js = new FakeJetStream()
  const p = publisher(js)
  const first = publish(p, 'm1')
  await js.sends(1)
  js.refuse()
  // the refusal reaches the publisher before m2 is made
  await new Promise(setImmediate)
  const second = publish(p, 'm2')
  // the re-send: m1, then m2 (which was not sent before it)
  await js.sends(3)
  assert.deepEqual(js.sent, ['m1', 'm1', 'm2'])
  js.answer()
  assert.deepEqual([await first, await second], [true, true])
  assert.deepEqual(js.stored, ['m1', 'm2'])
})

test('publishes held while NATS is away are refused once their deadline passed; later ones go on after the reconnect', async () => {
  const js = new FakeJetStream()
  const p = publisher(js, 30)
  js.drop()
  p.disconnected()
  assert.equal(await publish(p, 'm1'), false)
  js.restore()
  p.reconnected()
  const next = publish(p, 'm2')
  await js.sends(1)
  js.answer()
  assert.equal(await next, true)
  assert.deepEqual(js.stored, ['m2'])
})

test('close settles what was not stored as not stored', async () => {
  const js = new FakeJetStream()
  const p = publisher(js)
  const sent = publish(p, 'm1')
  js.drop()
  p.disconnected()
  const held = publish(p, 'm2')
  p.close()
  assert.deepEqual([await sent, await held, await publish(p, 'm3')], [false, false, false])
})

test('publishes acknowledged shortly before the disconnect that the stream lost are sent again first, in order, before the held ones', async () => {
  const js = new FakeJetStream()
  const asked: string[][] = []
  const p = new OrderedStreamPublisher({
    publish: js.publish,
    timeoutMs: 60_000,
    retryMs: 1,
    keepAckedMs: 60_000,
    // the stream lost m2 and m3 (a nats-server that acknowledged them while it shut down)
    lost: async (acked) => {
      asked.push(acked.map((a) => `${a.msgID}@${a.seq}`))
      return new Set(['m2', 'm3'])
    },
  })
  const first = [publish(p, 'm1'), publish(p, 'm2'), publish(p, 'm3')]
  await js.sends(3)
  js.answer()
  assert.deepEqual(await Promise.all(first), [true, true, true])
  js.drop()
  p.disconnected()
  const held = publish(p, 'm4')
  js.restore()
  p.reconnected()
  await js.sends(6)
  assert.deepEqual(asked, [['m1@1', 'm2@2', 'm3@3']])
  assert.deepEqual(js.sent.slice(3), ['m2', 'm3', 'm4'])
  js.answer()
  assert.equal(await held, true)
})
