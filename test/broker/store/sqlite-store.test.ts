import assert from 'node:assert/strict'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { DatabaseSync } from 'node:sqlite'
import { test } from 'node:test'
import type { BrokerMessage } from '../../../src/broker/message.ts'
import { BodyWriter } from '../../../src/broker/store/message-codec.ts'
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

function stores(): { a: SqliteStore; b: SqliteStore; file: string } {
  const file = join(mkdtempSync(join(tmpdir(), 'mqttd-store-')), 'mqttd.db')
  const options = { file, sync: 'batch' as const, maxBytes: 1 << 30 }
  return {
    a: new SqliteStore({ ...options, owner: 'i:1' }),
    b: new SqliteStore({ ...options, owner: 'i:2' }),
    file,
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

test('deletes of one group: out of order, single seqs and a session cleared in between all leave the right messages', async () => {
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

test('packet-id changes of one group: consecutive ids, a wrap past 65535, a gap, pubrel, a seq changed twice and a cleared session all leave the right ids', async () => {
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

for (const layout of ['rowid', 'WITHOUT ROWID'] as const) {
  test(`a store with one outbound row per message (before runs, ${layout}) is migrated into runs once on open, its messages kept`, async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'mqttd-store-')), 'mqttd.db')
    const options = { file, sync: 'batch' as const, maxBytes: 1 << 30 }
    const writer = new SqliteStore({ ...options, owner: 'old:1' })
    for (const clientId of ['c', 'd'])
      writer.putSession({
        clientId,
        expiryInterval: 60,
        will: undefined,
        connected: false,
        disconnectedAt: 1,
      })
    assert.equal(await writer.commit(), true)
    writer.close()
    // the table as 0.1 development builds wrote it, with bodies in the stored format
    const raw = new DatabaseSync(file)
    raw.exec(`CREATE TABLE outbound (client_id TEXT NOT NULL, seq INTEGER NOT NULL, packet_id INTEGER,
      state INTEGER NOT NULL, body BLOB NOT NULL, PRIMARY KEY (client_id, seq))${layout === 'rowid' ? '' : ' WITHOUT ROWID'}`)
    const bodies = new BodyWriter()
    const insert = raw.prepare('INSERT INTO outbound VALUES (?, ?, ?, ?, ?)')
    const row = (clientId: string, seq: number, packetId: number | null, state: number, text: string) =>
      insert.run(
        clientId,
        seq,
        packetId,
        state,
        bodies.encode({ message: message('x/1', text), qos: 1, retain: false, subscriptionIds: undefined }),
      )
    row('c', 1, 5, 1, 'kept')
    row('c', 2, null, 0, 'queued')
    row('d', 7, 9, 0, 'other')
    const tables = () =>
      raw
        .prepare(
          "SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'outbound%' ORDER BY name",
        )
        .all()
        .map((r) => r.name)

    const reader = new SqliteStore({ ...options, owner: 'new:1' })
    assert.deepEqual(tables(), ['outbound_marks', 'outbound_runs'])
    const adopted = new Map(
      reader
        .adopt((owner) => owner === 'old:1')
        .map((r) => [
          r.clientId,
          r.outbound.map((d) => [d.seq, d.packetId, d.state, Buffer.from(d.message.payload).toString()]),
        ]),
    )
    assert.deepEqual(adopted.get('c'), [
      [1, 5, 'pubrel', 'kept'],
      [2, undefined, 'publish', 'queued'],
    ])
    assert.deepEqual(adopted.get('d'), [[7, 9, 'publish', 'other']])
    // the migrated runs take changes like any other
    reader.deleteOutbound('c', 1)
    reader.updateOutbound('c', 2, 3, 'publish')
    assert.equal(await reader.commit(), true)
    assert.equal(reader.stats().rows.outbound, 2)
    // a second opener finds nothing to migrate
    new SqliteStore({ ...options, owner: 'new:2' }).close()
    raw.close()
    reader.close()
  })
}

/** Sessions' outbound messages as a third store adopting everything from the file would restore them. */
let probes = 0

function restored(file: string): Map<string, [number, number | undefined, string, string][]> {
  // an owner of its own each time: a store does not adopt from itself
  const reader = new SqliteStore({ file, sync: 'batch', maxBytes: 1 << 30, owner: `probe:${++probes}` })
  try {
    return new Map(
      reader
        .adopt(() => true)
        .map((r) => [
          r.clientId,
          r.outbound.map((d) => [d.seq, d.packetId, d.state, Buffer.from(d.message.payload).toString()]),
        ]),
    )
  } finally {
    reader.close()
  }
}

function rowCounts(file: string): { runs: number; marks: number } {
  const raw = new DatabaseSync(file)
  try {
    const n = (table: string) =>
      Number((raw.prepare(`SELECT count(*) AS n FROM ${table}`).get() as { n: number }).n)
    return { runs: n('outbound_runs'), marks: n('outbound_marks') }
  } finally {
    raw.close()
  }
}

async function sessionOf(store: SqliteStore, clientId: string, seqs: number[], text = 'm'): Promise<void> {
  store.putSession({ clientId, expiryInterval: 60, will: undefined, connected: false, disconnectedAt: 1 })
  const base = { message: message('x/1', text), qos: 1 as const, retain: false, subscriptionIds: undefined }
  for (const seq of seqs) store.addOutbound(clientId, { ...base, seq, packetId: undefined, state: 'publish' })
  assert.equal(await store.commit(), true)
}

test("one group's messages of a session are one run; acknowledged over later groups (a seq twice counts once), its rows go when the last one goes", async () => {
  const { a, b, file } = stores()
  b.close()
  await sessionOf(a, 'c', [1, 2, 3, 4, 5])
  assert.deepEqual(rowCounts(file), { runs: 1, marks: 0 })
  a.deleteOutbound('c', 1)
  a.deleteOutbound('c', 2)
  a.updateOutbound('c', 3, 40, 'pubrel')
  assert.equal(await a.commit(), true)
  assert.deepEqual(rowCounts(file), { runs: 1, marks: 1 })
  assert.equal(a.stats().rows.outbound, 3)
  assert.deepEqual(
    restored(file)
      .get('c')!
      .map(([seq, id, state]) => [seq, id, state]),
    [
      [3, 40, 'pubrel'],
      [4, undefined, 'publish'],
      [5, undefined, 'publish'],
    ],
  )
  // 1 and 2 again (gone already): they must not count twice against what is left
  for (const seq of [5, 3, 1, 2]) a.deleteOutbound('c', seq)
  assert.equal(await a.commit(), true)
  assert.deepEqual(rowCounts(file), { runs: 1, marks: 1 })
  assert.deepEqual(
    restored(file)
      .get('c')!
      .map(([seq]) => seq),
    [4],
  )
  a.deleteOutbound('c', 4)
  assert.equal(await a.commit(), true)
  assert.deepEqual(rowCounts(file), { runs: 0, marks: 0 })
  assert.equal(a.stats().rows.outbound, 0)
  a.close()
})

test('a session that moves between workers: the new holder changes the runs the old one wrote, and the old one, when it comes back, works from the file, not from what it knew', async () => {
  const { a, b, file } = stores()
  await sessionOf(a, 'c', [1, 2, 3, 4, 5, 6])
  a.deleteOutbound('c', 1)
  assert.equal(await a.commit(), true)
  a.release('c')
  // the session is on b now: b reads the runs a wrote
  b.deleteOutbound('c', 2)
  b.updateOutbound('c', 3, 33, 'publish')
  assert.equal(await b.commit(), true)
  b.release('c')
  // back on a
  a.deleteOutbound('c', 4)
  assert.equal(await a.commit(), true)
  assert.deepEqual(
    restored(file)
      .get('c')!
      .map(([seq, id]) => [seq, id]),
    [
      [3, 33],
      [5, undefined],
      [6, undefined],
    ],
  )
  a.close()
  b.close()
})

test("seqs used again after a move (an old run's acknowledged tail) do not hide the new holder's messages", async () => {
  const { a, b, file } = stores()
  await sessionOf(a, 'c', [1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 'old')
  for (let seq = 5; seq <= 10; seq++) a.deleteOutbound('c', seq)
  assert.equal(await a.commit(), true)
  a.release('c')
  // the new holder's session goes on from the highest seq it was given (4)
  const base = { message: message('x/1', 'new'), qos: 1 as const, retain: false, subscriptionIds: undefined }
  for (const seq of [5, 6, 7]) b.addOutbound('c', { ...base, seq, packetId: undefined, state: 'publish' })
  assert.equal(await b.commit(), true)
  b.deleteOutbound('c', 5)
  b.updateOutbound('c', 6, 60, 'publish')
  assert.equal(await b.commit(), true)
  assert.deepEqual(restored(file).get('c'), [
    [1, undefined, 'publish', 'old'],
    [2, undefined, 'publish', 'old'],
    [3, undefined, 'publish', 'old'],
    [4, undefined, 'publish', 'old'],
    [6, 60, 'publish', 'new'],
    [7, undefined, 'publish', 'new'],
  ])
  a.close()
  b.close()
})

test('more than 1,024 messages or 256 KB in one group are several runs, and a larger message is a run of its own', async () => {
  const { a, b, file } = stores()
  b.close()
  const seqs = Array.from({ length: 2500 }, (_, i) => i + 1)
  a.putSession({ clientId: 'c', expiryInterval: 60, will: undefined, connected: false, disconnectedAt: 1 })
  const small = { message: message('x/1', 'm'), qos: 1 as const, retain: false, subscriptionIds: undefined }
  for (const seq of seqs) a.addOutbound('c', { ...small, seq, packetId: undefined, state: 'publish' })
  const big = { ...small, message: message('x/big', 'b'.repeat(300_000)) }
  a.addOutbound('c', { ...big, seq: 2501, packetId: undefined, state: 'publish' })
  a.addOutbound('c', { ...small, seq: 2502, packetId: undefined, state: 'publish' })
  assert.equal(await a.commit(), true)
  // 1024 + 1024 + 452 small ones, the big one, the last small one
  assert.deepEqual(rowCounts(file), { runs: 5, marks: 0 })
  const back = restored(file).get('c')!
  assert.deepEqual(
    back.map(([seq]) => seq),
    [...seqs, 2501, 2502],
  )
  assert.equal(back[2500]![3].length, 300_000)
  a.close()
})

test('a run of messages to different topics from different publishers comes back message for message', async () => {
  const { a, b, file } = stores()
  b.close()
  a.putSession({ clientId: 'c', expiryInterval: 60, will: undefined, connected: false, disconnectedAt: 1 })
  const sent: [string, string, string][] = []
  const queued = {
    qos: 1,
    retain: false,
    subscriptionIds: undefined,
    packetId: undefined,
    state: 'publish',
  } as const
  for (let seq = 1; seq <= 40; seq++) {
    // runs of equal topics and origins, changing at different places
    const m = { ...message(`t/${Math.floor(seq / 3)}`, `p${seq}`), origin: `pub-${Math.floor(seq / 5)}` }
    sent.push([m.topic, m.origin, `p${seq}`])
    a.addOutbound('c', { ...queued, message: m, seq })
  }
  assert.equal(await a.commit(), true)
  // the first ones gone: the rest still decode (their topics may be the gone ones')
  for (let seq = 1; seq <= 7; seq++) a.deleteOutbound('c', seq)
  assert.equal(await a.commit(), true)
  const reader = new SqliteStore({ file, sync: 'batch', maxBytes: 1 << 30, owner: 'probe:x' })
  const [record] = reader.adopt(() => true)
  assert.deepEqual(
    record!.outbound.map((d) => [
      d.message.topic,
      d.message.origin,
      Buffer.from(d.message.payload).toString(),
    ]),
    sent.slice(7),
  )
  reader.close()
  a.close()
})
