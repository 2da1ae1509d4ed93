// What a worker says it received of the QoS stream: the check after a NATS restart trusts it over
// the consumer's own position, which steps over the messages the restart lost.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { StreamPosition } from '../../src/broker/stream-position.ts'

test('messages one after the other: received up to the last one', () => {
  const p = new StreamPosition(10, 1000)
  assert.equal(p.received(0), 10)
  for (let seq = 11; seq <= 15; seq++) assert.equal(p.advance(seq, 0), undefined)
  assert.equal(p.seq, 15)
  assert.equal(p.received(0), 15)
})

test('a skipped sequence: received only up to before it, while remembered; the position goes on', () => {
  const p = new StreamPosition(0, 1000)
  p.advance(1, 0)
  p.advance(2, 0)
  // 3..9 never came (a restart lost them, the consumer stepped over them)
  assert.deepEqual(p.advance(10, 100), { from: 3, to: 9 })
  p.advance(11, 200)
  assert.equal(p.seq, 11)
  assert.equal(p.received(500), 2)
  assert.equal(p.received(1099), 2)
  assert.equal(p.received(1100), 11)
})

test('a second skip while the first is remembered: the earliest counts', () => {
  const p = new StreamPosition(5, 1000)
  p.advance(8, 0)
  p.advance(20, 10)
  assert.equal(p.received(10), 5)
  // once forgotten, a new skip is remembered from its own place
  p.advance(30, 2000)
  assert.equal(p.received(2000), 20)
})

test('a sequence at or behind the position (a redelivery, a late copy) changes nothing', () => {
  const p = new StreamPosition(0, 1000)
  p.advance(1, 0)
  p.advance(2, 0)
  p.advance(2, 0)
  p.advance(1, 0)
  assert.equal(p.seq, 2)
  assert.equal(p.received(0), 2)
})

test('the first message after the consumer was made is not a skip', () => {
  const p = new StreamPosition(41, 1000)
  p.advance(42, 0)
  assert.equal(p.received(0), 42)
})
