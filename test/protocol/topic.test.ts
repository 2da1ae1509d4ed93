import assert from 'node:assert/strict'
import { test } from 'node:test'
import { TopicTrie } from '../../src/broker/topic-trie.ts'
import { isValidFilter, isValidTopicName, matchesFilter, parseFilter } from '../../src/protocol/topic.ts'

test('[3.1.1 MQTT-4.7.1-2] [5.0 MQTT-4.7.1-1] [3.1.1 MQTT-4.7.1-3] [5.0 MQTT-4.7.1-2] [3.1.1 MQTT-4.7.3-1] [5.0 MQTT-4.7.3-1] filter validation: # last and alone, + alone, non-empty', () => {
  for (const ok of ['#', '+', 'a/#', 'a/+/b', '+/+', '/', 'a//b', '/#', '$SYS/#', 'sport/tennis/+']) {
    assert.equal(isValidFilter(ok), true, ok)
  }
  for (const bad of ['', 'a#', 'a/#/b', '#/a', 'a+', 'a/b+/c', '++', 'a/\u0000']) {
    assert.equal(isValidFilter(bad), false, JSON.stringify(bad))
  }
})

test('[3.1.1 MQTT-3.3.2-2] [5.0 MQTT-3.3.2-2] [3.1.1 MQTT-4.7.3-1] [5.0 MQTT-4.7.3-1] [3.1.1 MQTT-4.7.3-2] [5.0 MQTT-4.7.3-2] topic names: non-empty, no wildcards, no U+0000', () => {
  for (const ok of ['a', 'a/b', '/', '$SYS/x', 'a b/ü']) assert.equal(isValidTopicName(ok), true, ok)
  for (const bad of ['', 'a/+', 'a/#', '#', 'a\u0000b'])
    assert.equal(isValidTopicName(bad), false, JSON.stringify(bad))
})

test('[5.0 MQTT-4.8.2-1] [5.0 MQTT-4.8.2-2] shared subscription filters: $share/{name}/{filter}', () => {
  assert.deepEqual(parseFilter('$share/g/a/+'), { filter: 'a/+', group: 'g' })
  assert.deepEqual(parseFilter('$share/g/#'), { filter: '#', group: 'g' })
  assert.deepEqual(parseFilter('a/b'), { filter: 'a/b', group: undefined })
  for (const bad of ['$share/g', '$share//a', '$share/g/', '$share/g+/a', '$share/#/a', '$share/g/a#']) {
    assert.equal(parseFilter(bad), undefined, bad)
  }
})

const cases: [string, string, boolean][] = [
  ['sport/tennis/player1/#', 'sport/tennis/player1', true],
  ['sport/tennis/player1/#', 'sport/tennis/player1/ranking', true],
  ['sport/tennis/player1/#', 'sport/tennis/player1/score/wimbledon', true],
  ['sport/#', 'sport', true],
  ['#', 'a/b/c', true],
  ['sport/tennis/+', 'sport/tennis/player1', true],
  ['sport/tennis/+', 'sport/tennis/player1/ranking', false],
  ['sport/+', 'sport', false],
  ['sport/+', 'sport/', true],
  ['+/+', '/finance', true],
  ['/+', '/finance', true],
  ['+', '/finance', false],
  ['a/b', 'a/b', true],
  ['a/b', 'a/c', false],
  ['a//b', 'a//b', true],
  ['+/b', 'a/b', true],
  // [3.1.1 MQTT-4.7.2-1] [5.0 MQTT-4.7.2-1] wildcards at the first level do not match $ topics
  ['#', '$SYS/x', false],
  ['+/x', '$SYS/x', false],
  ['$SYS/#', '$SYS/x', true],
  ['$SYS/+', '$SYS/x', true],
]

test('[3.1.1 MQTT-4.7.1-2] [5.0 MQTT-4.7.1-1] [3.1.1 MQTT-4.7.2-1] [5.0 MQTT-4.7.2-1] matchesFilter: spec examples, $ topics not matched by first-level wildcards', () => {
  for (const [filter, topic, expected] of cases)
    assert.equal(matchesFilter(filter, topic), expected, `${filter} ~ ${topic}`)
})

test('[3.1.1 MQTT-4.7.2-1] [5.0 MQTT-4.7.2-1] TopicTrie.match agrees with matchesFilter on every case, and prunes on delete', () => {
  const trie = new TopicTrie<string>()
  const filters = [...new Set(cases.map(([f]) => f))]
  for (const f of filters) trie.getOrCreate(f, () => f)
  assert.equal(trie.size, filters.length)
  const topics = [...new Set(cases.map(([, t]) => t))]
  for (const topic of topics) {
    const got: string[] = []
    trie.match(topic, (f) => got.push(f))
    const expected = filters.filter((f) => matchesFilter(f, topic))
    assert.deepEqual(got.sort(), expected.sort(), topic)
  }
  for (const f of filters) assert.equal(trie.delete(f), true)
  assert.equal(trie.size, 0)
  assert.equal(trie.delete('a/b'), false)
  assert.deepEqual([...trie.entries()], [])
})

test('TopicTrie on random filters and topics agrees with matchesFilter', () => {
  const levels = ['a', 'b', '', '$x']
  const pick = <T>(xs: T[]): T => xs[Math.floor(Math.random() * xs.length)]!
  const trie = new TopicTrie<string>()
  const filters = new Set<string>()
  for (let i = 0; i < 300; i++) {
    const n = 1 + Math.floor(Math.random() * 4)
    const parts = Array.from({ length: n }, () => pick([...levels, '+']))
    if (Math.random() < 0.3) parts.push('#')
    const f = parts.join('/')
    filters.add(f)
    trie.getOrCreate(f, () => f)
  }
  for (let i = 0; i < 300; i++) {
    const topic = Array.from({ length: 1 + Math.floor(Math.random() * 4) }, () => pick(levels)).join('/')
    const got: string[] = []
    trie.match(topic, (f) => got.push(f))
    assert.deepEqual(got.sort(), [...filters].filter((f) => matchesFilter(f, topic)).sort(), topic)
  }
})

test('TopicTrie match cache: every add and delete between matches of the same topics shows at once', () => {
  const levels = ['a', 'b', '', '$x']
  const pick = <T>(xs: T[]): T => xs[Math.floor(Math.random() * xs.length)]!
  const trie = new TopicTrie<string>()
  const filters = new Set<string>()
  // a few topics matched over and over, so nearly every match is a cache hit
  const topics = ['a', 'a/b', 'b//a', '$x/a', '/', 'a/b/']
  for (let round = 0; round < 2000; round++) {
    const parts = Array.from({ length: 1 + Math.floor(Math.random() * 3) }, () => pick([...levels, '+']))
    if (Math.random() < 0.3) parts.push('#')
    const f = parts.join('/')
    if (filters.has(f) && Math.random() < 0.5) {
      filters.delete(f)
      trie.delete(f)
    } else {
      filters.add(f)
      trie.getOrCreate(f, () => f)
    }
    for (const topic of topics) {
      const got: string[] = []
      trie.match(topic, (v) => got.push(v))
      assert.deepEqual(
        got.sort(),
        [...filters].filter((x) => matchesFilter(x, topic)).sort(),
        `${topic} @${round}`,
      )
    }
  }
})

test('TopicTrie match cache: more distinct topics than the cache holds still match right', () => {
  const trie = new TopicTrie<string>()
  trie.getOrCreate('d/+/t', () => 'd/+/t')
  trie.getOrCreate('d/7/#', () => 'd/7/#')
  for (let pass = 0; pass < 2; pass++) {
    for (let i = 0; i < 10_000; i++) {
      const expected = i === 7 ? ['d/+/t', 'd/7/#'] : ['d/+/t']
      assert.deepEqual([...trie.matches(`d/${i}/t`)].sort(), expected.sort())
    }
  }
  assert.deepEqual(trie.matches('e/1/t'), [])
})
