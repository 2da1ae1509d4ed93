import assert from 'node:assert/strict'
import { test } from 'node:test'
import { ChildCache } from '../../src/metrics/child-cache.ts'

test('a child is bound once per label pair and reused', () => {
  const bound: string[] = []
  const cache = new ChildCache((a, b) => {
    bound.push(`${a}/${b}`)
    return { a, b }
  })
  const first = cache.get('mqtt', 'auth_refused')
  assert.equal(cache.get('mqtt', 'auth_refused'), first)
  assert.notEqual(cache.get('mqtt', 'protocol_error'), first)
  assert.notEqual(cache.get('ws', 'auth_refused'), first)
  assert.deepEqual(bound, ['mqtt/auth_refused', 'mqtt/protocol_error', 'ws/auth_refused'])
})

test('known second labels are bound with the first use of a first label, or by row()', () => {
  const bound: string[] = []
  const cache = new ChildCache((a, b) => bound.push(`${a}/${b}`), ['x', 'y'])
  cache.row('one')
  assert.deepEqual(bound, ['one/x', 'one/y'])
  cache.get('two', 'z')
  assert.deepEqual(bound, ['one/x', 'one/y', 'two/x', 'two/y', 'two/z'])
  cache.get('two', 'x')
  cache.row('one')
  assert.equal(bound.length, 5, 'nothing is bound twice')
})
