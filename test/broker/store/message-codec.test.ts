import assert from 'node:assert/strict'
import { test } from 'node:test'
import { serialize } from 'node:v8'
import type { BrokerMessage } from '../../../src/broker/message.ts'
import { BodyWriter, decodeBody, type StoredBody } from '../../../src/broker/store/message-codec.ts'

const message = (over: Partial<BrokerMessage> = {}): BrokerMessage => ({
  topic: 'a/b',
  payload: Buffer.from('hello'),
  qos: 1,
  retain: false,
  properties: undefined,
  expiresAt: undefined,
  origin: 'pub-1',
  ...over,
})

const roundTrip = (body: StoredBody) => decodeBody(Buffer.from(new BodyWriter().encode(body)))

test('a plain QoS 1 delivery comes back field for field', () => {
  const body: StoredBody = { message: message(), qos: 1, retain: false, subscriptionIds: undefined }
  assert.deepEqual(roundTrip(body), { ...body, message: { ...body.message, payload: Buffer.from('hello') } })
})

test('every optional part survives: expiry, subscription ids, v5 properties with binary correlation data, non-ASCII', () => {
  const body: StoredBody = {
    message: message({
      topic: 'çà/☃/x',
      origin: 'klient-ü',
      payload: Buffer.from([0, 255, 1, 254]),
      qos: 2,
      retain: true,
      expiresAt: 1_796_186_366_340,
      properties: {
        payloadFormatIndicator: true,
        contentType: 'application/json',
        responseTopic: 'reply/here',
        correlationData: Buffer.from([9, 8, 7, 0]),
        userProperties: { a: '1', b: ['x', 'y'] },
      },
    }),
    qos: 1,
    retain: true,
    subscriptionIds: [1, 268_435_455],
  }
  const back = roundTrip(body)
  assert.deepEqual(back.message.properties?.correlationData, Buffer.from([9, 8, 7, 0]))
  assert.deepEqual(
    { ...back.message.properties, correlationData: undefined },
    {
      ...body.message.properties,
      correlationData: undefined,
    },
  )
  assert.deepEqual({ ...back.message, properties: undefined }, { ...body.message, properties: undefined })
  assert.equal(back.qos, 1)
  assert.equal(back.retain, true)
  assert.deepEqual(back.subscriptionIds, [1, 268_435_455])
})

test('a body larger than the scratch buffer, then a small one: both decode (the view is per call)', () => {
  const writer = new BodyWriter()
  const big = message({ payload: Buffer.alloc(100_000, 7) })
  const first = Buffer.from(
    writer.encode({ message: big, qos: 1, retain: false, subscriptionIds: undefined }),
  )
  const second = Buffer.from(
    writer.encode({ message: message(), qos: 1, retain: false, subscriptionIds: undefined }),
  )
  assert.equal(decodeBody(first).message.payload.byteLength, 100_000)
  assert.deepEqual(decodeBody(second).message.payload, Buffer.from('hello'))
})

test('rows written by v8.serialize (before this format) still decode', () => {
  const body: StoredBody = { message: message(), qos: 1, retain: false, subscriptionIds: [3] }
  const back = decodeBody(serialize(body))
  assert.equal(back.message.topic, 'a/b')
  assert.deepEqual(back.subscriptionIds, [3])
})

test('after a previous message, a topic or origin equal to its own is left out and taken from it when decoded; a different one is written', () => {
  const writer = new BodyWriter()
  const first = message({ topic: 'a/b', origin: 'pub-1' })
  const alone = Buffer.from(
    writer.encode({ message: first, qos: 1, retain: false, subscriptionIds: undefined }),
  )
  for (const [over, shorter] of [
    [{}, 'a/b'.length + 'pub-1'.length + 8],
    [{ topic: 'a/c' }, 'pub-1'.length + 4],
    [{ origin: 'pub-2' }, 'a/b'.length + 4],
    [{ topic: 'x', origin: 'y' }, 'a/b'.length + 'pub-1'.length - 2],
  ] as const) {
    const next = message({ ...over, payload: Buffer.from('hello') })
    const bytes = Buffer.from(
      writer.encode({ message: next, qos: 1, retain: false, subscriptionIds: undefined }, first),
    )
    assert.equal(alone.byteLength - bytes.byteLength, shorter, JSON.stringify(over))
    const back = decodeBody(bytes, first).message
    assert.deepEqual([back.topic, back.origin], [next.topic, next.origin])
  }
})
