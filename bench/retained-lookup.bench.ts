/**
 * Should workers keep their in-memory retained replica now that the store
 * holds every retained message on disk? What a SUBSCRIBE pays to find the
 * retained messages it must send, from the replica (`RetainedStore.match`)
 * against from the store's SQLite table (the query, then decoding each row's
 * message as sqlite-store.ts stores it), for N retained messages with topics
 * `bench/<i % 100>/<i>`:
 *
 * - exact: one topic (a Map lookup, or a primary-key SELECT);
 * - narrow wildcard `bench/7/+` (1% of the topics; SQLite with a topic range on
 *   the primary key, the best an index can do for a prefix);
 * - wide wildcard `bench/#` (every topic).
 *
 * The replica's memory is measured by bench/retained-memory.ts (docs/broker-design.md).
 *
 * usage: node bench/retained-lookup.bench.ts [messages=20000] [rounds=3]
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { DatabaseSync } from 'node:sqlite'
import { deserialize } from 'node:v8'
import type { BrokerMessage } from '../src/broker/message.ts'
import { RetainedStore } from '../src/broker/retained-store.ts'
import { SqliteStore } from '../src/broker/store/sqlite-store.ts'
import { matchesFilter } from '../src/protocol/topic.ts'

const messages = Number(process.argv[2] ?? 20_000)
const rounds = Number(process.argv[3] ?? 3)
const dir = mkdtempSync(join(tmpdir(), 'retained-lookup-'))
const file = join(dir, 'mqttd.db')

const replica = new RetainedStore({ maxMessages: messages + 1, maxBytes: Number.MAX_SAFE_INTEGER })
const store = new SqliteStore({ file, owner: 'bench:1', sync: 'batch', maxBytes: Number.MAX_SAFE_INTEGER })
for (let i = 0; i < messages; i++) {
  const message: BrokerMessage = {
    topic: `bench/${i % 100}/${i}`,
    payload: Buffer.alloc(64, i % 256),
    qos: 1,
    retain: true,
    properties: undefined,
    expiresAt: undefined,
    origin: 'bench',
  }
  replica.set(message, { time: i, worker: 1 })
  store.putRetained(message, i, 1)
}
store.flushNow()
store.close()

// A worker's own read connection, as it would query on SUBSCRIBE
const db = new DatabaseSync(file)
const exactQuery = db.prepare('SELECT body FROM retained WHERE topic = ? AND body IS NOT NULL')
const rangeQuery = db.prepare(
  'SELECT topic, body FROM retained WHERE topic >= ? AND topic < ? AND body IS NOT NULL',
)

function fromStore(filter: string): number {
  const exact = !filter.includes('+') && !filter.includes('#')
  if (exact) {
    const row = exactQuery.get(filter)
    return row === undefined ? 0 : (deserialize(row.body as Uint8Array) as BrokerMessage).qos
  }
  // The literal prefix before the first wildcard bounds the range
  const cut = Math.min(...['+', '#'].map((w) => filter.indexOf(w)).filter((i) => i >= 0))
  const prefix = filter.slice(0, cut)
  let n = 0
  for (const row of rangeQuery.iterate(prefix, `${prefix}\uffff`)) {
    if (!matchesFilter(filter, row.topic as string)) continue
    deserialize(row.body as Uint8Array)
    n++
  }
  return n
}

function time(fn: () => number, minMs = 300): { usPerCall: number; found: number } {
  let calls = 0
  let found = 0
  const started = performance.now()
  while (performance.now() - started < minMs) {
    found = fn()
    calls++
  }
  return { usPerCall: ((performance.now() - started) * 1000) / calls, found }
}

const cases = [
  ['exact', `bench/7/${Math.floor(messages / 2) - ((Math.floor(messages / 2) - 7) % 100)}`],
  ['narrow wildcard (1%)', 'bench/7/+'],
  ['wide wildcard (all)', 'bench/#'],
] as const

process.stdout.write(`retained-lookup: ${messages} retained messages, 64 B payloads, ${rounds} rounds\n`)
for (let round = 1; round <= rounds; round++) {
  for (const [name, filter] of cases) {
    const mem = time(() => replica.match(filter, Date.now()).length)
    const sql = time(() => fromStore(filter))
    process.stdout.write(
      `round ${round} ${name.padEnd(21)} replica ${mem.usPerCall.toFixed(1).padStart(9)} µs  store ${sql.usPerCall
        .toFixed(1)
        .padStart(
          9,
        )} µs  (store/replica ${(sql.usPerCall / mem.usPerCall).toPrecision(2)}×, ${mem.found}/${sql.found} found)\n`,
    )
  }
}
db.close()
rmSync(dir, { recursive: true, force: true })
