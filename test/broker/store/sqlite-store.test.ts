import assert from 'node:assert/strict'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { DatabaseSync } from 'node:sqlite'
import { test } from 'node:test'
import type { BrokerMessage } from '../../../src/broker/message.ts'
import { SqliteStore } from '../../../src/broker/store/sqlite-store.ts'

function message(topic: string, payload: string): BrokerMessage {
  return {
    topic,
    payload: Buffer.from(payload),
    qos: 1,
    retain: false,
    properties: undefined,
    expiresAt: undefined,
    origin: 'pub',
  }
}

function stores(): { a: SqliteStore; b: SqliteStore } {
  const file = join(mkdtempSync(join(tmpdir(), 'mqttd-store-')), 'mqttd.db')
  const options = { file, sync: 'batch' as const, maxBytes: 1 << 30 }
  return {
    a: new SqliteStore({ ...options, owner: 'i:1' }),
    b: new SqliteStore({ ...options, owner: 'i:2' }),
  }
}

test('a session written by one worker is adopted whole by exactly one other, in seq order, with packet ids and states', async () => {
  const { a, b } = stores()
  a.putSession({
    clientId: 'c',
    expiryInterval: 60,
    will: undefined,
    connected: true,
    disconnectedAt: undefined,
  })
  a.putSubscription('c', 'x/#', { qos: 1, nl: false, rap: false, rh: 0, subscriptionId: 7 })
  const base = { message: message('x/1', 'one'), qos: 1 as const, retain: false, subscriptionIds: [7] }
  a.addOutbound('c', { ...base, seq: 1, packetId: undefined, state: 'publish' })
  a.addOutbound('c', { ...base, seq: 2, packetId: undefined, state: 'publish' })
  a.addOutbound('c', { ...base, seq: 3, packetId: undefined, state: 'publish' })
  assert.equal(await a.commit(), true)
  a.updateOutbound('c', 1, 11, 'pubrel')
  a.updateOutbound('c', 2, 12, 'publish')
  a.deleteOutbound('c', 3)
  assert.equal(await a.commit(), true)

  const adopted = b.adopt((owner) => owner === 'i:1')
  assert.equal(adopted.length, 1)
  const [record] = adopted
  assert.equal(record!.connected, true)
  assert.deepEqual(record!.subscriptions, [
    ['x/#', { qos: 1, nl: false, rap: false, rh: 0, subscriptionId: 7 }],
  ])
  assert.deepEqual(
    record!.outbound.map((d) => [d.seq, d.packetId, d.state, Buffer.from(d.message.payload).toString()]),
    [
      [1, 11, 'pubrel', 'one'],
      [2, 12, 'publish', 'one'],
    ],
  )
  assert.deepEqual(
    b.adopt((owner) => owner === 'i:1'),
    [],
    'adopted once',
  )
  assert.deepEqual(
    a.adopt((owner) => owner !== 'i:2'),
    [],
    'the session belongs to its adopter now: no other owner is left to adopt from',
  )
  a.close()
  b.close()
})

test('a message added and removed within one turn never reaches the disk', async () => {
  const { a } = stores()
  a.putSession({
    clientId: 'c',
    expiryInterval: 60,
    will: undefined,
    connected: true,
    disconnectedAt: undefined,
  })
  const base = { message: message('x', 'y'), qos: 1 as const, retain: false, subscriptionIds: undefined }
  a.addOutbound('c', { ...base, seq: 1, packetId: undefined, state: 'publish' })
  a.updateOutbound('c', 1, 5, 'publish')
  a.deleteOutbound('c', 1)
  assert.equal(await a.commit(), true)
  assert.equal(a.stats().rows.outbound, 0)
  assert.equal(a.stats().rows.sessions, 1)
  a.close()
})

test('retained messages: the later version wins whatever the commit order, a deletion is a tombstone', async () => {
  const { a, b } = stores()
  a.putRetained(message('r', 'new'), 200, 1)
  assert.equal(await a.commit(), true)
  b.putRetained(message('r', 'old'), 100, 2)
  b.putRetained(message('gone', 'x'), 100, 2)
  assert.equal(await b.commit(), true)
  a.deleteRetained('gone', 150, 1)
  assert.equal(await a.commit(), true)
  const loaded = b
    .loadRetained(Date.now())
    .map((r) => [r.message.topic, Buffer.from(r.message.payload).toString()])
  assert.deepEqual(loaded, [['r', 'new']])
  a.close()
  b.close()
})

test('commit() is undefined when nothing is pending, and false once a write came after close (nothing may be acknowledged then)', async () => {
  const { a } = stores()
  assert.equal(a.commit(), undefined)
  a.close()
  assert.equal(a.commit(), undefined)
  a.putSession({
    clientId: 'c',
    expiryInterval: 1,
    will: undefined,
    connected: true,
    disconnectedAt: undefined,
  })
  assert.equal(await a.commit(), false)
})

test('inbound QoS 2 ids awaiting PUBREL are adopted with their session, released ones are not, and they go with the session', async () => {
  const { a, b } = stores()
  a.putSession({
    clientId: 'p',
    expiryInterval: 60,
    will: undefined,
    connected: true,
    disconnectedAt: undefined,
  })
  a.putInbound('p', 9)
  a.putInbound('p', 3)
  a.putInbound('p', 5)
  assert.equal(await a.commit(), true)
  a.deleteInbound('p', 5)
  assert.equal(await a.commit(), true)
  assert.equal(a.stats().rows.inbound, 2)
  const [record] = b.adopt((owner) => owner === 'i:1')
  assert.deepEqual(record?.inbound, [3, 9])
  b.deleteSession('p')
  assert.equal(await b.commit(), true)
  assert.equal(b.stats().rows.inbound, 0)
  a.close()
  b.close()
})

test("sync 'always': a commit resolves once the WAL was fdatasync'ed, each group is timed until then, and the rows are in the file", async () => {
  const file = join(mkdtempSync(join(tmpdir(), 'mqttd-store-')), 'mqttd.db')
  const timed: number[] = []
  const a = new SqliteStore({
    file,
    owner: 'i:1',
    sync: 'always',
    maxBytes: 1 << 30,
    onCommit: (seconds, err) => {
      assert.equal(err, undefined)
      timed.push(seconds)
    },
  })
  a.putRetained(message('r/1', 'one'), 1, 1)
  const first = a.commit()
  // Committed in a later turn: two groups, whatever fdatasync they share
  await new Promise((resolve) => setImmediate(resolve))
  a.putRetained(message('r/2', 'two'), 2, 1)
  const second = a.commit()
  assert.deepEqual(await Promise.all([first, second]), [true, true])
  assert.equal(timed.length, 2)
  a.close()
  const b = new SqliteStore({ file, owner: 'i:2', sync: 'batch', maxBytes: 1 << 30 })
  assert.deepEqual(
    b
      .loadRetained(Date.now())
      .map((r) => r.message.topic)
      .sort(),
    ['r/1', 'r/2'],
  )
  b.close()
})

// A store that waited in SQLite's busy handler would sleep 20 s per try here (the other connection, on
// this thread, cannot commit meanwhile): the test's timeout fails it after the second try
test('a group commit that finds the write lock taken by another connection waits without blocking the event loop, then commits', {
  timeout: 30_000,
}, async () => {
  const file = join(mkdtempSync(join(tmpdir(), 'mqttd-store-')), 'mqttd.db')
  const a = new SqliteStore({ file, owner: 'i:1', sync: 'batch', maxBytes: 1 << 30, busyTimeoutMs: 20_000 })
  const other = new DatabaseSync(file)
  other.exec('BEGIN IMMEDIATE')
  a.putRetained(message('r/1', 'one'), 1, 1)
  const committed = a.commit()
  let settled = false
  void committed?.then(() => {
    settled = true
  })
  // Timers still fire while the lock is held: the worker goes on serving its clients
  for (let i = 0; i < 5; i++) await new Promise((resolve) => setTimeout(resolve, 2))
  assert.equal(settled, false, 'not committed while another connection holds the write lock')
  other.exec('COMMIT')
  assert.equal(await committed, true)
  assert.deepEqual(
    a.loadRetained(Date.now()).map((r) => r.message.topic),
    ['r/1'],
  )
  other.close()
  a.close()
})

/** Stores `a` and `b` on one file; `a` holds sessions 'r' and 's' with outbound seqs 1-12 each, committed. */
async function twoSessionsOfTwelve() {
  const { a, b } = stores()
  const state = { expiryInterval: 60, will: undefined, connected: false, disconnectedAt: 1 }
  a.putSession({ clientId: 'r', ...state })
  a.putSession({ clientId: 's', ...state })
  const base = { message: message('x/1', 'm'), qos: 1 as const, retain: false, subscriptionIds: undefined }
  for (let seq = 1; seq <= 12; seq++) {
    a.addOutbound('r', { ...base, seq, packetId: undefined, state: 'publish' })
    a.addOutbound('s', { ...base, seq, packetId: undefined, state: 'publish' })
  }
  assert.equal(await a.commit(), true)
  return { a, b, base }
}

test('deletes of one group become ranges: runs, single seqs and a session cleared in between all leave the right rows', async () => {
  const { a, b, base } = await twoSessionsOfTwelve()
  // out of order on purpose: 1-5, 7, 9-10 go; 6, 8, 11, 12 stay
  for (const seq of [3, 1, 2, 5, 4, 7, 10, 9]) a.deleteOutbound('r', seq)
  // 's': deleted, cleared, then its seqs written again and one deleted after the clear
  a.deleteOutbound('s', 1)
  a.clearOutbound('s')
  a.addOutbound('s', { ...base, seq: 1, packetId: undefined, state: 'publish' })
  assert.equal(await a.commit(), true)
  a.deleteOutbound('s', 2) // gone with the clear already: deleting nothing is fine
  assert.equal(await a.commit(), true)
  const adopted = new Map(b.adopt(() => true).map((r) => [r.clientId, r.outbound.map((d) => d.seq)]))
  assert.deepEqual(adopted.get('r'), [6, 8, 11, 12])
  assert.deepEqual(adopted.get('s'), [1])
  a.close()
  b.close()
})

test('packet-id changes of one group become runs: consecutive ids, a wrap past 65535, a gap, pubrel, a seq changed twice and a cleared session all leave the right ids', async () => {
  const { a, b, base } = await twoSessionsOfTwelve()
  // 1-4 get 65533, 65534, 65535, then 1 (the allocator wraps); 5-6 skip an id in use; 7 is pubrel
  const ids: [number, number, 'publish' | 'pubrel'][] = [
    [1, 65533, 'publish'],
    [2, 65534, 'publish'],
    [3, 65535, 'publish'],
    [4, 1, 'publish'],
    [5, 3, 'publish'],
    [6, 4, 'publish'],
    [7, 5, 'pubrel'],
    [8, 6, 'publish'],
    [9, 7, 'publish'],
    [8, 6, 'pubrel'], // the same seq again later in the group: the later change wins
  ]
  for (const [seq, id, st] of ids) a.updateOutbound('r', seq, id, st)
  a.updateOutbound('r', 10, undefined, 'publish')
  a.updateOutbound('r', 11, 1, 'publish') // after a change without an id (0 in the batch): not a run with it
  a.updateOutbound('s', 1, 20, 'publish')
  a.updateOutbound('s', 2, 21, 'publish')
  a.clearOutbound('s')
  a.addOutbound('s', { ...base, seq: 1, packetId: undefined, state: 'publish' })
  assert.equal(await a.commit(), true)
  a.updateOutbound('s', 1, 30, 'publish')
  a.updateOutbound('s', 2, 31, 'publish') // cleared already: nothing to change
  assert.equal(await a.commit(), true)
  const adopted = new Map(
    b.adopt(() => true).map((r) => [r.clientId, r.outbound.map((d) => [d.seq, d.packetId, d.state])]),
  )
  assert.deepEqual(adopted.get('r')!.slice(0, 11), [
    [1, 65533, 'publish'],
    [2, 65534, 'publish'],
    [3, 65535, 'publish'],
    [4, 1, 'publish'],
    [5, 3, 'publish'],
    [6, 4, 'publish'],
    [7, 5, 'pubrel'],
    [8, 6, 'pubrel'],
    [9, 7, 'publish'],
    [10, undefined, 'publish'],
    [11, 1, 'publish'],
  ])
  assert.deepEqual(adopted.get('s'), [[1, 30, 'publish']])
  a.close()
  b.close()
})

test('a store whose outbound table predates WITHOUT ROWID is migrated once on open, its rows kept', async () => {
  const file = join(mkdtempSync(join(tmpdir(), 'mqttd-store-')), 'mqttd.db')
  const options = { file, sync: 'batch' as const, maxBytes: 1 << 30 }
  const writer = new SqliteStore({ ...options, owner: 'old:1' })
  writer.putSession({
    clientId: 'c',
    expiryInterval: 60,
    will: undefined,
    connected: false,
    disconnectedAt: 1,
  })
  const base = { message: message('x/1', 'kept'), qos: 1 as const, retain: false, subscriptionIds: undefined }
  writer.addOutbound('c', { ...base, seq: 1, packetId: 5, state: 'pubrel' })
  writer.addOutbound('c', { ...base, seq: 2, packetId: undefined, state: 'publish' })
  assert.equal(await writer.commit(), true)
  writer.close()
  // the table as 0.1 development builds wrote it: a rowid table and its key index
  const raw = new DatabaseSync(file)
  raw.exec(`CREATE TABLE outbound_old (client_id TEXT NOT NULL, seq INTEGER NOT NULL, packet_id INTEGER,
    state INTEGER NOT NULL, body BLOB NOT NULL, PRIMARY KEY (client_id, seq))`)
  raw.exec('INSERT INTO outbound_old SELECT * FROM outbound')
  raw.exec('DROP TABLE outbound')
  raw.exec('ALTER TABLE outbound_old RENAME TO outbound')
  const sqlOf = () =>
    (raw.prepare("SELECT sql FROM sqlite_master WHERE name = 'outbound'").get() as { sql: string }).sql
  assert.doesNotMatch(sqlOf(), /WITHOUT ROWID/)

  const reader = new SqliteStore({ ...options, owner: 'new:1' })
  assert.match(sqlOf(), /WITHOUT ROWID/)
  const [record] = reader.adopt((owner) => owner === 'old:1')
  assert.deepEqual(
    record!.outbound.map((d) => [d.seq, d.packetId, d.state, Buffer.from(d.message.payload).toString()]),
    [
      [1, 5, 'pubrel', 'kept'],
      [2, undefined, 'publish', 'kept'],
    ],
  )
  // a second opener finds nothing to migrate
  new SqliteStore({ ...options, owner: 'new:2' }).close()
  raw.close()
  reader.close()
})
