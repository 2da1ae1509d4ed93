import assert from 'node:assert/strict'
import { test } from 'node:test'
import {
  filterCovers,
  mayPublish,
  maySubscribe,
  substitute,
  topicMatches,
} from '../../examples/handlers/lib/topic-acl.ts'

test('topicMatches follows MQTT wildcard rules', () => {
  const cases: Array<[string, string, boolean]> = [
    ['a/b', 'a/b', true],
    ['a/+', 'a/b', true],
    ['a/+', 'a/b/c', false],
    ['a/#', 'a', true], // '#' also matches the parent level
    ['a/#', 'a/b/c', true],
    ['+/+', '/x', true],
    ['#', 'x/y', true],
    ['a/b', 'a/c', false],
  ]
  for (const [filter, topic, want] of cases)
    assert.equal(topicMatches(filter, topic), want, `${filter} ~ ${topic}`)
})

test('wildcards at the first level do not match $-topics [3.1.1 MQTT-4.7.2-1] [5.0 MQTT-4.7.2-1]', () => {
  assert.equal(topicMatches('#', '$SYS/x'), false)
  assert.equal(topicMatches('+/x', '$SYS/x'), false)
  assert.equal(topicMatches('$SYS/#', '$SYS/x'), true)
  assert.equal(filterCovers('#', '$SYS/#'), false)
})

test('filterCovers: a subscription is allowed only within the rule', () => {
  assert.equal(filterCovers('sensors/#', 'sensors/+/temp'), true)
  assert.equal(filterCovers('sensors/+/temp', 'sensors/+/temp'), true)
  assert.equal(filterCovers('sensors/+/temp', 'sensors/#'), false)
  assert.equal(filterCovers('sensors/a', 'sensors/+'), false)
  assert.equal(filterCovers('sensors/+', 'sensors/a'), true)
  assert.equal(filterCovers('a/b', 'a/b/c'), false)
})

test('substitute fills %u and %c and refuses subjects that would widen the rule', () => {
  const subject = { username: 'alice', clientId: 'c1' }
  assert.equal(substitute('users/%u/%c/#', subject), 'users/alice/c1/#')
  assert.equal(substitute('users/%u', { username: '#', clientId: 'x' }), null)
  assert.equal(substitute('users/%c', { username: 'a', clientId: 'x/y' }), null)
  assert.equal(substitute('plain/+', { username: '#', clientId: '+' }), 'plain/+')
  const rules = { publish: ['users/%u/#'], subscribe: ['users/%u/#'] }
  assert.equal(mayPublish(rules, { username: '+', clientId: 'c' }, 'users/bob/x'), false)
  assert.equal(mayPublish(rules, subject, 'users/alice/x'), true)
  assert.equal(maySubscribe(rules, subject, 'users/alice/+'), true)
  assert.equal(maySubscribe(rules, subject, 'users/+/x'), false)
})
