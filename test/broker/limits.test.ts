import assert from 'node:assert/strict'
import { test } from 'node:test'
import {
  allowReservedTopic,
  type BrokerLimits,
  defaultBrokerLimits,
  mayPublishTo,
  subscriptionQuotaProblem,
  topicProblem,
} from '../../src/broker/limits.ts'
import { RoutingTable } from '../../src/broker/routing-table.ts'
import { Session } from '../../src/broker/session.ts'
import { SubscriptionIndex } from '../../src/broker/subscription-index.ts'
import { parseFilter } from '../../src/protocol/topic.ts'

const limits: BrokerLimits = { ...defaultBrokerLimits, maxTopicLength: 10, maxTopicLevels: 3 }

test('topicProblem: length counts UTF-8 bytes, levels count "/"-separated parts', () => {
  assert.equal(topicProblem('a/b/c', limits), undefined)
  assert.equal(topicProblem('0123456789', limits), undefined)
  assert.equal(topicProblem('0123456789a', limits), 'topic_too_long')
  // four characters, twelve bytes
  assert.equal(topicProblem('€€€€', limits), 'topic_too_long')
  assert.equal(topicProblem('€€€', limits), undefined)
  assert.equal(topicProblem('a/b/c/d', limits), 'topic_too_deep')
  assert.equal(topicProblem('///', limits), 'topic_too_deep')
  assert.equal(topicProblem('//', limits), undefined)
})

test('[5.0 MQTT-4.7.2-1] mayPublishTo: `$` topics only when a handler marked the packet or a configured filter matches', () => {
  assert.equal(mayPublishTo('a/$SYS', {}, []), true)
  assert.equal(mayPublishTo('$SYS/broker/uptime', {}, []), false)
  assert.equal(mayPublishTo('$app/x', {}, ['$app/#']), true)
  assert.equal(mayPublishTo('$SYS/x', {}, ['$app/#']), false)
  // a wildcard in the first level never matches a `$` topic, so it cannot open them all
  assert.equal(mayPublishTo('$SYS/x', {}, ['#']), false)
  const packet = { topic: '$SYS/x' }
  allowReservedTopic(packet)
  assert.equal(mayPublishTo(packet.topic, packet, []), true)
})

test('subscriptionQuotaProblem: per-client quota first, then the server-wide count (this worker plus announced)', () => {
  const l = { ...limits, maxSubscriptionsPerClient: 2, maxSubscriptions: 10 }
  assert.equal(subscriptionQuotaProblem(1, { local: 3, remote: 6 }, l), undefined)
  assert.equal(subscriptionQuotaProblem(2, { local: 3, remote: 6 }, l), 'client_subscription_quota')
  assert.equal(subscriptionQuotaProblem(0, { local: 4, remote: 6 }, l), 'server_subscription_quota')
})

test('SubscriptionIndex.size counts subscriptions, plain and shared, replacements once', () => {
  const index = new SubscriptionIndex()
  const s1 = new Session('c1', 0, { maxQueuedMessages: 10, maxPendingWrites: 10 }, () => {})
  const s2 = new Session('c2', 0, { maxQueuedMessages: 10, maxPendingWrites: 10 }, () => {})
  const sub = { qos: 0 as const, nl: false, rap: false, rh: 0, subscriptionId: undefined }
  index.add(parseFilter('a/+')!, s1, sub)
  index.add(parseFilter('a/+')!, s1, { ...sub, qos: 1 })
  index.add(parseFilter('a/+')!, s2, sub)
  index.add(parseFilter('$share/g/a/+')!, s1, sub)
  index.add(parseFilter('$share/g/a/+')!, s1, sub)
  assert.equal(index.size, 3)
  assert.equal(index.remove(parseFilter('a/+')!, 'c1'), true)
  assert.equal(index.remove(parseFilter('a/+')!, 'c1'), false)
  assert.equal(index.remove(parseFilter('$share/g/a/+')!, 'c1'), true)
  assert.equal(index.size, 1)
})

test('RoutingTable.size follows the announced counts of the other workers, never below zero per filter', () => {
  const table = new RoutingTable()
  table.apply(2, 'a/b', 3)
  table.apply(3, '$share/g/x', 2)
  assert.equal(table.size, 5)
  table.apply(2, 'a/b', -5)
  assert.equal(table.size, 2)
  table.replaceWorker(3, [['y', 4]])
  assert.equal(table.size, 4)
  table.removeWorker(3)
  assert.equal(table.size, 0)
})
