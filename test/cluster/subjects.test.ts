// MQTT topic ↔ NATS subject, as nats-server's own MQTT support maps them (server/mqtt.go).
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { filterToSubjects, subjectToTopic, topicToSubject } from '../../src/cluster/subjects.ts'

test("topics map as nats-server's MQTT support maps them: / → ., . → //, empty levels → /", () => {
  const cases: [string, string][] = [
    ['a', 'a'],
    ['a/b/c', 'a.b.c'],
    ['a.b/c', 'a//b.c'],
    ['/a', '/.a'],
    ['a/', 'a./'],
    ['a//b', 'a./.b'],
    ['a///b', 'a././.b'],
    ['/', '/./'],
    ['.', '//'],
    ['$SYS/broker', '$SYS.broker'],
    ['ü/ß', 'ü.ß'],
  ]
  for (const [topic, subject] of cases) {
    assert.deepEqual(topicToSubject(topic), { subject, exact: true }, topic)
    assert.equal(subjectToTopic(subject), topic, subject)
  }
})

test('topics NATS cannot carry are escaped level by level and marked inexact', () => {
  assert.deepEqual(topicToSubject('white space/x'), { subject: 'white_space.x', exact: false })
  assert.deepEqual(topicToSubject('a/*/b'), { subject: 'a._.b', exact: false })
  assert.deepEqual(topicToSubject('a/>'), { subject: 'a._', exact: false })
  assert.deepEqual(topicToSubject('tab\there'), { subject: 'tab_here', exact: false })
  // the same escaping on a filter: the subscription still receives the topic
  assert.deepEqual(filterToSubjects('white space/+'), ['white_space.*'])
  assert.deepEqual(filterToSubjects('a/*/b'), ['a._.b'])
})

test('filters: + → *, # → > and a/# also subscribes to a itself [5.0 MQTT-4.7.1-2] [3.1.1 MQTT-4.7.1-2]', () => {
  assert.deepEqual(filterToSubjects('#'), ['>'])
  assert.deepEqual(filterToSubjects('a/#'), ['a', 'a.>'])
  assert.deepEqual(filterToSubjects('+/b/#'), ['*.b', '*.b.>'])
  assert.deepEqual(filterToSubjects('a/+/c'), ['a.*.c'])
  assert.deepEqual(filterToSubjects('/+'), ['/.*'])
  assert.deepEqual(filterToSubjects('+/'), ['*./'])
  assert.deepEqual(filterToSubjects('a.b/#'), ['a//b', 'a//b.>'])
  assert.deepEqual(filterToSubjects('$SYS/#'), ['$SYS', '$SYS.>'])
})

test('every exact topic comes back from its subject', () => {
  const alphabet = ['a', 'b', '.', '/', 'é', '$', '-']
  let seed = 7
  const next = () => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31
    return seed
  }
  for (let i = 0; i < 2000; i++) {
    let topic = ''
    const length = 1 + (next() % 10)
    for (let j = 0; j < length; j++) topic += alphabet[next() % alphabet.length]
    const { subject, exact } = topicToSubject(topic)
    assert.ok(exact)
    assert.equal(subjectToTopic(subject), topic, `${topic} → ${subject}`)
  }
})
