import assert from 'node:assert/strict'
import { test } from 'node:test'
import { RoutingTable } from '../../src/broker/routing-table.ts'
import { Session } from '../../src/broker/session.ts'
import { pickMember, SubscriptionIndex } from '../../src/broker/subscription-index.ts'
import { parseFilter } from '../../src/protocol/topic.ts'

test('routing table: workers with matching filters, counts per worker, snapshot replace and removal', () => {
  const table = new RoutingTable()
  table.apply(2, 'a/+', 1)
  table.apply(2, 'a/+', 1)
  table.apply(3, 'a/#', 1)
  table.apply(4, 'b', 1)
  assert.deepEqual([...table.targets('a/x', () => 0).workers].sort(), [2, 3])
  table.apply(2, 'a/+', -1)
  assert.deepEqual([...table.targets('a/x', () => 0).workers].sort(), [2, 3])
  table.apply(2, 'a/+', -1)
  assert.deepEqual([...table.targets('a/x', () => 0).workers], [3])
  table.replaceWorker(3, [['c', 1]])
  assert.deepEqual([...table.targets('a/x', () => 0).workers], [])
  assert.deepEqual([...table.targets('c', () => 0).workers], [3])
  table.removeWorker(3)
  assert.deepEqual([...table.targets('c', () => 0).workers], [])
  // [3.1.1 MQTT-4.7.2-1] [5.0 MQTT-4.7.2-1]
  table.apply(5, '#', 1)
  assert.deepEqual([...table.targets('$SYS/x', () => 0).workers], [])
})

test('[5.0 §4.8.2] shared groups: each message goes to exactly one worker (or here), weighted by members', () => {
  const table = new RoutingTable()
  table.apply(2, '$share/g/t/+', 3)
  table.apply(3, '$share/g/t/+', 1)
  const counts = new Map<number | 'local', number>()
  const n = 4000
  for (let i = 0; i < n; i++) {
    const targets = table.targets('t/1', () => 4)
    const chosen = [...targets.shared.keys()]
    assert.ok(chosen.length <= 1)
    // a plain subscription was not involved
    assert.equal(targets.workers.size, 0)
    const key = chosen[0] ?? 'local'
    counts.set(key, (counts.get(key) ?? 0) + 1)
  }
  // 4 local, 3 on worker 2, 1 on worker 3: every holder is chosen, local the most
  assert.ok((counts.get('local') ?? 0) > (counts.get(3) ?? 0))
  assert.ok((counts.get(2) ?? 0) > (counts.get(3) ?? 0))
  assert.ok((counts.get(3) ?? 0) > 0)
})

function msgSession(id: string): Session {
  return new Session(id, 0, { maxQueuedMessages: 10, maxPendingWrites: 10 }, () => {})
}

test('[5.0 §4.8.2] pickMember: round-robin over members, online members first', () => {
  const index = new SubscriptionIndex()
  const sub = { qos: 1 as const, nl: false, rap: false, rh: 0, subscriptionId: undefined }
  const parsed = parseFilter('$share/g/t')!
  const sessions = ['a', 'b', 'c'].map(msgSession)
  for (const s of sessions) index.add(parsed, s, sub)
  const link = {
    send: async () => true,
    protocolVersion: 5,
    receiveMaximum: 10,
    topicAliasMaximum: 0,
    maximumPacketSize: undefined,
  }
  const group = index.group('t', 'g')!
  // all offline: plain round-robin
  assert.deepEqual(
    [1, 2, 3, 4].map(() => pickMember(group)!.session.clientId),
    ['a', 'b', 'c', 'a'],
  )
  sessions[2]!.attach(link)
  assert.deepEqual(
    [1, 2, 3].map(() => pickMember(group)!.session.clientId),
    ['c', 'c', 'c'],
  )
  index.remove(parsed, 'c')
  index.remove(parsed, 'a')
  assert.equal(pickMember(group)!.session.clientId, 'b')
  index.remove(parsed, 'b')
  assert.equal(index.group('t', 'g'), undefined)
})

test('plain targets: the other workers of a topic, kept per topic until the table changes, none while a share group matches', () => {
  const table = new RoutingTable()
  table.apply(2, 'a/+', 1)
  table.apply(3, 'a/#', 1)
  table.apply(1, 'a/b', 1) // this worker's own announcement: never a target of its own publish
  const first = table.plainTargets('a/b', 1)
  assert.deepEqual([...first!].sort(), [2, 3])
  assert.equal(table.plainTargets('a/b', 1), first, 'kept: the same array again')
  assert.deepEqual(table.plainTargets('x', 1), [])
  // a change anywhere drops what was kept: worker 3 leaves, worker 4 comes
  table.apply(3, 'a/#', -1)
  assert.deepEqual(table.plainTargets('a/b', 1), [2])
  table.apply(4, 'a/b', 1)
  assert.deepEqual([...table.plainTargets('a/b', 1)!].sort(), [2, 4])
  // a share group among the matching filters: each publish draws its member (targets())
  table.apply(5, '$share/g/a/b', 1)
  assert.equal(table.plainTargets('a/b', 1), undefined)
  assert.deepEqual(table.plainTargets('a/c', 1), [2])
  table.apply(5, '$share/g/a/b', -1)
  assert.deepEqual([...table.plainTargets('a/b', 1)!].sort(), [2, 4])
})
