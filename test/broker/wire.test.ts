import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { ClusterMessage } from '../../src/broker/cluster.ts'
import { BatchWriter, readBatch } from '../../src/broker/wire.ts'

type Pub = Extract<ClusterMessage, { t: 'pub' }>

function roundTrip(messages: ClusterMessage[]): ClusterMessage[] {
  const writer = new BatchWriter()
  for (const m of messages) writer.push(m)
  assert.equal(writer.count, messages.length)
  const batch = writer.take()
  assert.equal(writer.count, 0)
  // as the port does: the byte stream is transferred, the side objects cloned
  const received = structuredClone(batch, { transfer: [batch.b] })
  const out: ClusterMessage[] = []
  readBatch(received, (m) => out.push(m))
  return out
}

test('a batch of pub records and side objects reads back in order, every field intact', () => {
  const full: Pub = {
    t: 'pub',
    from: 3,
    fromSeq: 70_000,
    to: [2, 5],
    seen: [1, 4_000_000_000],
    shared: [null, [['g', 'a/#']]],
    message: {
      topic: 'a/ü/€',
      payload: new Uint8Array([1, 2, 3]),
      qos: 2,
      retain: true,
      properties: {
        payloadFormatIndicator: true,
        contentType: 'text/plain',
        responseTopic: 'r/1',
        correlationData: new Uint8Array([9, 8]),
        userProperties: { a: ['1', '2'], b: 'x' },
      },
      expiresAt: 1_764_000_000_123.5,
      origin: 'client-ü',
      id: 'node-a|1f2e3d4c|17',
    },
    sharedOnly: true,
    id: 42,
  }
  const bare: Pub = {
    t: 'pub',
    from: 3,
    fromSeq: 0,
    to: [2],
    seen: [0],
    shared: [null],
    message: {
      topic: 't',
      payload: new Uint8Array(70_000).fill(7),
      qos: 0,
      retain: false,
      properties: undefined,
      expiresAt: undefined,
      origin: '',
    },
  }
  const ok: ClusterMessage = { t: 'pub-ok', from: 3, to: 2, ids: [1, 2] }
  const out = roundTrip([full, ok, bare, ok])
  assert.equal(out.length, 4)
  const a = out[0] as Pub
  assert.deepEqual(
    { ...a, message: { ...a.message, payload: [...a.message.payload] } },
    {
      ...full,
      message: { ...full.message, payload: [1, 2, 3] },
    },
  )
  assert.deepEqual(out[1], ok)
  const b = out[2] as Pub
  assert.equal(b.message.payload.byteLength, 70_000)
  assert.ok(b.message.payload.every((x) => x === 7))
  assert.equal(b.message.properties, undefined)
  assert.equal(b.message.expiresAt, undefined)
  assert.equal(b.id, undefined)
  assert.equal(b.sharedOnly, undefined)
  assert.deepEqual(b.shared, [null])
  assert.deepEqual(out[3], ok)
})

test('a kept message (QoS 1/2 or retained) owns its payload bytes; a QoS 0 one may view the batch', () => {
  const pub = (qos: 0 | 1, retain: boolean): Pub => ({
    t: 'pub',
    from: 1,
    fromSeq: 1,
    to: [2],
    seen: [0],
    shared: [null],
    message: {
      topic: 'k',
      payload: new Uint8Array([5, 6]),
      qos,
      retain,
      properties: undefined,
      expiresAt: undefined,
      origin: 'o',
    },
  })
  const out = roundTrip([pub(1, false), pub(0, true), pub(0, false)]) as Pub[]
  for (const m of out.slice(0, 2)) {
    assert.equal(m.message.payload.byteOffset, 0)
    assert.equal(m.message.payload.buffer.byteLength, 2)
  }
  assert.deepEqual([...out[2]!.message.payload], [5, 6])
})

test('the writer grows past its first buffer and starts empty after take()', () => {
  const writer = new BatchWriter()
  const big: Pub = {
    t: 'pub',
    from: 1,
    fromSeq: 1,
    to: [2],
    seen: [0],
    shared: [null],
    message: {
      topic: 'x',
      payload: new Uint8Array(10_000),
      qos: 0,
      retain: false,
      properties: undefined,
      expiresAt: undefined,
      origin: 'o',
    },
  }
  for (let i = 0; i < 10; i++) writer.push(big)
  const first = writer.take()
  assert.ok(first.n > 100_000)
  writer.push(big)
  const second = writer.take()
  const out: ClusterMessage[] = []
  readBatch(second, (m) => out.push(m))
  assert.equal(out.length, 1)
})

test("a pub whose topic or origin is the previous pub's in the batch reads back with them (runs, changes, objects between, a new batch)", () => {
  const pub = (topic: string, origin: string, n: number): Pub => ({
    t: 'pub',
    from: 1,
    fromSeq: n,
    to: [2],
    seen: [0],
    shared: [null],
    message: {
      topic,
      payload: new Uint8Array([n]),
      qos: 0,
      retain: false,
      properties: undefined,
      expiresAt: undefined,
      origin,
    },
  })
  const ok: ClusterMessage = { t: 'pub-ok', from: 3, to: 2, ids: [1] }
  const messages: ClusterMessage[] = [
    pub('a/b', 'p1', 1),
    pub('a/b', 'p1', 2), // both as before
    pub('a/b', 'p2', 3), // topic as before
    ok,
    pub('x/ü', 'p2', 4), // origin as before, across a side object
    pub('', '', 5), // empty strings differ from the previous ones
    pub('', '', 6),
    pub('a/b', 'p1', 7),
  ]
  const writer = new BatchWriter()
  for (const m of messages) writer.push(m)
  const first = writer.take()
  // the next batch starts afresh: its first pub carries both strings
  writer.push(pub('a/b', 'p1', 8))
  const second = writer.take()
  const out: ClusterMessage[] = []
  for (const batch of [first, second])
    readBatch(structuredClone(batch, { transfer: [batch.b] }), (m) => out.push(m))
  const seen = out.map((m) =>
    m.t === 'pub' ? [m.message.topic, m.message.origin, m.message.payload[0]] : m.t,
  )
  assert.deepEqual(seen, [
    ['a/b', 'p1', 1],
    ['a/b', 'p1', 2],
    ['a/b', 'p2', 3],
    'pub-ok',
    ['x/ü', 'p2', 4],
    ['', '', 5],
    ['', '', 6],
    ['a/b', 'p1', 7],
    ['a/b', 'p1', 8],
  ])
  // the repeats cost no bytes: the batch is shorter than the same records with their strings
  const lone = new BatchWriter()
  lone.push(pub('a/b', 'p1', 2))
  assert.ok(first.n < 7 * lone.take().n)
})

test("sequences and the backpressure id past 2^32 (a long-lived worker's) read back exactly, so they still order and match", () => {
  const pub: Pub = {
    t: 'pub',
    from: 2,
    fromSeq: 2 ** 32 + 5,
    to: [3, 4],
    seen: [2 ** 40 + 1, 7],
    shared: [null, null],
    message: {
      topic: 't',
      payload: new Uint8Array([1]),
      qos: 1,
      retain: false,
      properties: undefined,
      expiresAt: undefined,
      origin: 'c',
    },
    id: Number.MAX_SAFE_INTEGER,
  }
  const [out] = roundTrip([pub]) as Pub[]
  assert.equal(out!.fromSeq, 2 ** 32 + 5)
  assert.deepEqual(out!.seen, [2 ** 40 + 1, 7])
  assert.equal(out!.id, Number.MAX_SAFE_INTEGER)
})
