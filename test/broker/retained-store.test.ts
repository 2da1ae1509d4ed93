import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { BrokerMessage } from '../../src/broker/message.ts'
import { RETAINED_ENTRY_OVERHEAD, retainedEntrySize } from '../../src/broker/retained-size.ts'
import { RetainedStore } from '../../src/broker/retained-store.ts'

function msg(topic: string, payload: string, extra: Partial<BrokerMessage> = {}): BrokerMessage {
  return {
    topic,
    payload: Buffer.from(payload),
    qos: 1,
    retain: true,
    properties: undefined,
    expiresAt: undefined,
    origin: 'c',
    ...extra,
  }
}
const v = (time: number, worker = 1) => ({ time, worker })
const payloads = (ms: BrokerMessage[]) => ms.map((m) => String(Buffer.from(m.payload))).sort()

test('[3.1.1 MQTT-3.3.1-5] [3.1.1 MQTT-3.3.1-7] [5.0 MQTT-3.3.1-5] store and replace per topic; match by filter', () => {
  const store = new RetainedStore({ maxMessages: 10, maxBytes: 1_000_000 })
  assert.equal(store.set(msg('a/b', '1'), v(1)), 'stored')
  assert.equal(store.set(msg('a/c', '2'), v(2)), 'stored')
  assert.equal(store.set(msg('a/b', '3'), v(3)), 'stored')
  assert.equal(store.size, 2)
  assert.deepEqual(payloads(store.match('a/+', Date.now())), ['2', '3'])
  assert.deepEqual(payloads(store.match('a/b', Date.now())), ['3'])
  assert.deepEqual(payloads(store.match('#', Date.now())), ['2', '3'])
})

test('[3.1.1 MQTT-3.3.1-10] [3.1.1 MQTT-3.3.1-11] [5.0 MQTT-3.3.1-6] [5.0 MQTT-3.3.1-7] an empty payload deletes and is never stored', () => {
  const store = new RetainedStore({ maxMessages: 10, maxBytes: 1_000_000 })
  store.set(msg('a', 'x'), v(1))
  assert.equal(store.set(msg('a', ''), v(2)), 'deleted')
  assert.equal(store.size, 0)
  assert.equal(store.bytes, 0)
  assert.equal(store.set(msg('b', ''), v(3)), 'deleted')
  assert.deepEqual(store.match('#', Date.now()), [])
})

test('[3.1.1 MQTT-4.7.2-1] [5.0 MQTT-4.7.2-1] # does not return retained $ topics', () => {
  const store = new RetainedStore({ maxMessages: 10, maxBytes: 1_000_000 })
  store.set(msg('$SYS/x', 's'), v(1))
  store.set(msg('x', 'n'), v(1))
  assert.deepEqual(payloads(store.match('#', Date.now())), ['n'])
  assert.deepEqual(payloads(store.match('$SYS/#', Date.now())), ['s'])
})

test('replicas converge: a write older than the current one or than a deletion is ignored', () => {
  const store = new RetainedStore({ maxMessages: 10, maxBytes: 1_000_000 })
  store.set(msg('a', 'new'), v(10, 2))
  assert.equal(store.set(msg('a', 'old'), v(9, 3)), 'stale')
  assert.equal(store.set(msg('a', 'tie-lower-worker'), v(10, 1)), 'stale')
  store.set(msg('a', ''), v(20))
  assert.equal(store.set(msg('a', 'late'), v(15)), 'stale')
  assert.equal(store.size, 0)
  assert.equal(store.set(msg('a', 'after'), v(21)), 'stored')
})

test('limits: new topics beyond maxMessages or maxBytes are refused, replacements that fit are accepted', () => {
  const o = RETAINED_ENTRY_OVERHEAD
  const store = new RetainedStore({ maxMessages: 2, maxBytes: 2 * o + 10 })
  assert.equal(store.set(msg('a', '1234'), v(1)), 'stored') // o + 5 bytes
  assert.equal(store.set(msg('b', '12'), v(2)), 'stored') // o + 3 bytes
  assert.equal(store.set(msg('c', '1'), v(3)), 'limit')
  assert.equal(store.set(msg('a', '123456'), v(4)), 'stored') // o + 7 + o + 3 = 2o + 10
  assert.equal(store.set(msg('b', '123'), v(5)), 'limit') // o + 7 + o + 4 > 2o + 10
  assert.equal(store.bytes, 2 * o + 10)
})

test('maxBytes counts what an entry costs: per-entry overhead, topic, payload and properties', () => {
  const plain = msg('t/1', 'x'.repeat(100))
  assert.equal(retainedEntrySize(plain), RETAINED_ENTRY_OVERHEAD + 3 + 100)
  const rich = msg('t/1', 'x'.repeat(100), {
    properties: {
      contentType: 'text/plain',
      correlationData: new Uint8Array(16),
      userProperties: { k: ['a', 'bb'] },
    },
  })
  // the properties object, each property, each user property value with its key
  assert.equal(
    retainedEntrySize(rich) - retainedEntrySize(plain),
    32 + (32 + 10) + (32 + 16) + (32 + 2) + (32 + 3),
  )
  // 1,000 small messages cannot hide in a store sized for their payloads alone
  const store = new RetainedStore({ maxMessages: 10_000, maxBytes: 1000 * 110 })
  let stored = 0
  for (let i = 0; i < 1000; i++) if (store.set(msg(`t/${i}`, 'x'.repeat(100)), v(i)) === 'stored') stored++
  assert.ok(stored < 100, `${stored} stored`)
  assert.ok(store.bytes <= 1000 * 110)
})

test('[5.0 MQTT-3.3.2-5] expired retained messages are not returned and are dropped', () => {
  const store = new RetainedStore({ maxMessages: 10, maxBytes: 1_000_000 })
  const now = Date.now()
  store.set(msg('a', 'x', { expiresAt: now - 1 }), v(1))
  store.set(msg('b', 'y', { expiresAt: now + 60_000 }), v(1))
  assert.deepEqual(payloads(store.match('+', now)), ['y'])
  assert.equal(store.size, 1)
})
