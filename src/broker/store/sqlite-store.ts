/**
 * The embedded store backend: one SQLite file (`node:sqlite`, WAL) shared by
 * every worker of the server, each worker with its own connection. Writes are
 * buffered and committed in groups, one transaction per event-loop turn
 * (`setImmediate`), so a flood of publishes costs one commit per turn rather
 * than one per message. Writers of different workers serialize on SQLite's
 * write lock (`busy_timeout`). With `sync: 'always'` the transaction itself
 * does not fsync (SQLite's NORMAL): the WAL file is fdatasync'ed afterwards
 * on libuv's thread pool and the group's acknowledgements wait for it, so the
 * worker's event loop never blocks on the disk, and commits made while one
 * fdatasync runs share the next. See docs/broker-design.md, "Durable state".
 */
import { closeSync, fdatasync, fsyncSync, openSync } from 'node:fs'
import { dirname } from 'node:path'
import { DatabaseSync, type StatementSync } from 'node:sqlite'
import { deserialize, serialize } from 'node:v8'
import type { BrokerMessage } from '../message.ts'
import type { Subscription } from '../session.ts'
import type { Will } from '../will.ts'
import { BodyWriter, decodeBody } from './message-codec.ts'
import { CHANGED, decodeRun, GONE, PUBREL, type Run, RunBook, RunWriter, runOf } from './outbound-runs.ts'
import type { BrokerStore, SessionRecord, SessionState, StoredDelivery, StoreStats } from './types.ts'

export type SyncMode = 'batch' | 'always' | 'off'

export interface SqliteStoreOptions {
  file: string
  /** This worker's name in the `owner` column: `<instance>:<worker>`. */
  owner: string
  sync: SyncMode
  /** Bytes of live pages beyond which the store reports `full`. */
  maxBytes: number
  /** How long a writer waits for another worker's transaction. */
  busyTimeoutMs?: number
  /** Called after each group commit with its duration in seconds, or with the error. */
  onCommit?: (seconds: number, err: unknown) => void
}

/**
 * The one-row-per-message outbound table of stores written before runs
 * (outbound-runs.ts); migrated into runs on open.
 */
const LEGACY_OUTBOUND = 'outbound'

const SCHEMA = `
CREATE TABLE IF NOT EXISTS sessions (
  client_id TEXT PRIMARY KEY,
  owner TEXT NOT NULL,
  expiry INTEGER NOT NULL,
  will BLOB,
  connected INTEGER NOT NULL,
  disconnected_at INTEGER
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS sessions_owner ON sessions(owner);
CREATE TABLE IF NOT EXISTS subscriptions (
  client_id TEXT NOT NULL,
  filter TEXT NOT NULL,
  options TEXT NOT NULL,
  PRIMARY KEY (client_id, filter)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS outbound_runs (
  id INTEGER PRIMARY KEY,
  client_id TEXT NOT NULL,
  seq INTEGER NOT NULL,
  n INTEGER NOT NULL,
  seqs BLOB NOT NULL,
  body BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS outbound_runs_client ON outbound_runs(client_id, seq);
CREATE TABLE IF NOT EXISTS outbound_marks (
  run INTEGER PRIMARY KEY,
  gone INTEGER NOT NULL,
  marks BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS inbound (
  client_id TEXT NOT NULL,
  packet_id INTEGER NOT NULL,
  PRIMARY KEY (client_id, packet_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS retained (
  topic TEXT PRIMARY KEY,
  time INTEGER NOT NULL,
  worker INTEGER NOT NULL,
  body BLOB
);
`

/**
 * The workers' automatic checkpoint threshold in pages (SQLite's default: 1,000): the main
 * thread checkpoints (checkpointer.ts), a worker only when the WAL grew this far regardless.
 */
const WORKER_AUTOCHECKPOINT_PAGES = 10_000

/** The database file in a persistence directory. */
export const STORE_FILE = 'mqttd.db'

/**
 * Opens the file as an mqttd store: WAL, the sync mode, the schema (created
 * when missing). Throws SQLite's error unchanged (store-file.ts codes it).
 */
export function openDatabase(file: string, sync: SyncMode, busyTimeoutMs = 5000): DatabaseSync {
  const db = new DatabaseSync(file, { timeout: busyTimeoutMs })
  try {
    // WAL: one writer and many readers across the workers' connections
    db.exec('PRAGMA journal_mode = WAL')
    // batch: durable against a process crash (kill -9), fsync at checkpoints; always: the same, and
    // SqliteStore fsyncs the WAL after each group commit itself, off the event loop
    db.exec(`PRAGMA synchronous = ${sync === 'off' ? 'OFF' : 'NORMAL'}`)
    db.exec(SCHEMA)
    migrateOutbound(db)
  } catch (err) {
    db.close()
    throw err
  }
  return db
}

/**
 * A store written before runs (a row per outbound message, mqttd 0.1 development builds, with or
 * without rowid) gets its rows copied into runs once, in one transaction, by whichever connection
 * opens it first; the old table is dropped.
 */
function migrateOutbound(db: DatabaseSync): void {
  const isOld = () =>
    db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?").get(LEGACY_OUTBOUND) !==
    undefined
  if (!isOld()) return
  db.exec('BEGIN IMMEDIATE')
  try {
    // another connection may have migrated it between the look and the lock
    if (isOld()) {
      const insert = db.prepare(
        'INSERT INTO outbound_runs (client_id, seq, n, seqs, body) VALUES (?, ?, ?, ?, ?)',
      )
      const runs = new RunWriter(new BodyWriter())
      const rows = db
        .prepare(
          `SELECT client_id, seq, packet_id, state, body FROM ${LEGACY_OUTBOUND} ORDER BY client_id, seq`,
        )
        .all()
      const write = (clientId: string, deliveries: StoredDelivery[]) =>
        runs.write(deliveries, (run) => insert.run(clientId, run.first, run.count, run.seqs, run.body))
      let clientId: string | undefined
      let deliveries: StoredDelivery[] = []
      for (const row of rows) {
        if (row.client_id !== clientId) {
          if (clientId !== undefined) write(clientId, deliveries)
          clientId = row.client_id as string
          deliveries = []
        }
        deliveries.push({
          ...decodeBody(row.body as Uint8Array),
          seq: Number(row.seq),
          packetId: row.packet_id === null ? undefined : Number(row.packet_id),
          state: Number(row.state) === 1 ? 'pubrel' : 'publish',
        })
      }
      if (clientId !== undefined) write(clientId, deliveries)
      db.exec(`DROP TABLE ${LEGACY_OUTBOUND}`)
    }
    db.exec('COMMIT')
  } catch (err) {
    if (db.isTransaction) db.exec('ROLLBACK')
    throw err
  }
}

/** A will (rare, written at connect): V8's serializer. */
function encode(value: unknown): Uint8Array {
  return serialize(value)
}

function decode<T>(bytes: Uint8Array): T {
  return deserialize(bytes) as T
}

type Row = Record<string, unknown>

/** A committed group waiting for the WAL's fdatasync (sync 'always'). */
interface Unsynced {
  started: number
  waiters: ((ok: boolean) => void)[]
}

/** One session's outbound messages added in this group: one run (or a few) at commit. */
interface PendingRun {
  deliveries: Map<number, StoredDelivery>
  cancelled: boolean
}

export class SqliteStore implements BrokerStore {
  readonly #db: DatabaseSync
  readonly #o: SqliteStoreOptions
  readonly #s: Record<string, StatementSync>
  readonly #bodies = new BodyWriter()
  readonly #runs = new RunWriter(this.#bodies)
  #ops: (() => void)[] = []
  /** Outbound messages added in this group by client, so later changes in the same group fold into them. */
  // By client id, then seq: a composite string key would be a new string per message, and V8
  // internalizes Map string keys (3% of a worker under a QoS 1 flood)
  #puts = new Map<string, PendingRun>()
  /** This group's outbound deletes by client, applied to the runs at the position of the client's first one. */
  #deletes = new Map<string, number[]>()
  /** This group's outbound packet-id/state changes by client: seq, packet id (0: none), state (1: pubrel), flat. */
  #updates = new Map<string, number[]>()
  /**
   * The stored runs of the sessions this worker holds, read from the file at a session's first
   * change and kept up to date by this worker's own writes after that. Missing: read when needed
   * (a session that just arrived from another worker, another node, or a previous run).
   */
  #books = new Map<string, RunBook>()
  /** Sessions that left this worker while writes were pending: their books go after the commit. */
  #released = new Set<string>()
  #waiters: ((ok: boolean) => void)[] = []
  #promise: Promise<boolean> | undefined
  #scheduled = false
  /** When the scheduled group commit first found the write lock taken. */
  #lockWaitSince: number | undefined
  #closed = false
  #droppedAfterClose = false
  #full = false
  #sizeCheckedAt = 0
  readonly #pageSize: number
  /** sync 'always': the WAL file, fdatasync'ed after each group commit. */
  #wal: number | undefined
  #unsynced: Unsynced[] = []
  #syncing = false

  constructor(options: SqliteStoreOptions) {
    this.#o = options
    this.#db = openDatabase(options.file, options.sync, options.busyTimeoutMs)
    const db = this.#db
    // The main thread checkpoints (checkpointer.ts); this one only if the WAL grows far past that
    db.exec(`PRAGMA wal_autocheckpoint = ${WORKER_AUTOCHECKPOINT_PAGES}`)
    this.#pageSize = Number((db.prepare('PRAGMA page_size').get() as Row).page_size)
    this.#s = {
      putSession: db.prepare(
        `INSERT INTO sessions (client_id, owner, expiry, will, connected, disconnected_at) VALUES (?, ?, ?, ?, ?, ?)
         ON CONFLICT (client_id) DO UPDATE SET owner = excluded.owner, expiry = excluded.expiry, will = excluded.will,
         connected = excluded.connected, disconnected_at = excluded.disconnected_at`,
      ),
      deleteSession: db.prepare('DELETE FROM sessions WHERE client_id = ?'),
      deleteSubs: db.prepare('DELETE FROM subscriptions WHERE client_id = ?'),
      putSub: db.prepare(
        'INSERT OR REPLACE INTO subscriptions (client_id, filter, options) VALUES (?, ?, ?)',
      ),
      deleteSub: db.prepare('DELETE FROM subscriptions WHERE client_id = ? AND filter = ?'),
      addRun: db.prepare(
        'INSERT INTO outbound_runs (client_id, seq, n, seqs, body) VALUES (?, ?, ?, ?, ?) RETURNING id',
      ),
      deleteRun: db.prepare('DELETE FROM outbound_runs WHERE id = ?'),
      putMarks: db.prepare('INSERT OR REPLACE INTO outbound_marks (run, gone, marks) VALUES (?, ?, ?)'),
      deleteMarks: db.prepare('DELETE FROM outbound_marks WHERE run = ?'),
      clearMarks: db.prepare(
        'DELETE FROM outbound_marks WHERE run IN (SELECT id FROM outbound_runs WHERE client_id = ?)',
      ),
      clearRuns: db.prepare('DELETE FROM outbound_runs WHERE client_id = ?'),
      runsOf: db.prepare(
        `SELECT r.id, r.seq, r.seqs, m.marks FROM outbound_runs r LEFT JOIN outbound_marks m ON m.run = r.id
         WHERE r.client_id = ? ORDER BY r.seq`,
      ),
      putIn: db.prepare('INSERT OR IGNORE INTO inbound (client_id, packet_id) VALUES (?, ?)'),
      deleteIn: db.prepare('DELETE FROM inbound WHERE client_id = ? AND packet_id = ?'),
      clearIn: db.prepare('DELETE FROM inbound WHERE client_id = ?'),
      inOf: db.prepare('SELECT packet_id FROM inbound WHERE client_id = ? ORDER BY packet_id'),
      // Last writer wins by version, as in the workers' replicas (retained-store.ts)
      putRetained: db.prepare(
        `INSERT INTO retained (topic, time, worker, body) VALUES (?, ?, ?, ?)
         ON CONFLICT (topic) DO UPDATE SET time = excluded.time, worker = excluded.worker, body = excluded.body
         WHERE excluded.time > retained.time OR (excluded.time = retained.time AND excluded.worker > retained.worker)`,
      ),
      owners: db.prepare('SELECT DISTINCT owner FROM sessions'),
      sessionsOf: db.prepare('SELECT * FROM sessions WHERE owner = ?'),
      setOwner: db.prepare('UPDATE sessions SET owner = ? WHERE owner = ?'),
      subsOf: db.prepare('SELECT filter, options FROM subscriptions WHERE client_id = ?'),
      outOf: db.prepare(
        `SELECT r.seq, r.seqs, r.body, m.marks FROM outbound_runs r LEFT JOIN outbound_marks m ON m.run = r.id
         WHERE r.client_id = ? ORDER BY r.seq`,
      ),
      retainedAll: db.prepare('SELECT topic, time, worker, body FROM retained WHERE body IS NOT NULL'),
      pages: db.prepare(
        'SELECT (SELECT page_count FROM pragma_page_count) - (SELECT freelist_count FROM pragma_freelist_count) AS n',
      ),
    }
    if (options.sync === 'always') {
      // The WAL exists once the schema was written; its directory entry is made durable once
      this.#wal = openSync(`${options.file}-wal`, 'r+')
      const dir = openSync(dirname(options.file), 'r')
      try {
        fsyncSync(dir)
      } finally {
        closeSync(dir)
      }
    }
    db.exec('PRAGMA busy_timeout = 0')
    this.#checkSize()
  }

  get full(): boolean {
    return this.#full
  }

  // Writes run with get(), not run(): run() builds a { changes, lastInsertRowid } result nobody reads,
  // get() on a write returns undefined (insert + delete in a loop: 0.67 → 0.53 µs a statement)
  #add(op: () => void): void {
    if (this.#closed) {
      // Nothing written after close is kept: whoever waits on it must not acknowledge
      this.#droppedAfterClose = true
      return
    }
    this.#ops.push(op)
    if (!this.#scheduled) {
      this.#scheduled = true
      // One transaction for everything written in this turn of the event loop
      setImmediate(() => this.#flushScheduled())
    }
  }

  putRetained(message: BrokerMessage, time: number, worker: number): void {
    this.#add(() => {
      const body = this.#bodies.encode({
        message,
        qos: message.qos,
        retain: true,
        subscriptionIds: undefined,
      })
      this.#s.putRetained!.get(message.topic, time, worker, body)
    })
  }

  deleteRetained(topic: string, time: number, worker: number): void {
    // A row without body is the tombstone: an older write arriving later loses against it
    this.#add(() => this.#s.putRetained!.get(topic, time, worker, null))
  }

  loadRetained(now: number): { message: BrokerMessage; time: number; worker: number }[] {
    const out: { message: BrokerMessage; time: number; worker: number }[] = []
    for (const row of this.#blocking(() => this.#s.retainedAll!.all())) {
      const { message } = decodeBody(row.body as Uint8Array)
      if (message.expiresAt !== undefined && message.expiresAt <= now) continue
      out.push({ message, time: Number(row.time), worker: Number(row.worker) })
    }
    return out
  }

  putSession(state: SessionState): void {
    const will = state.will === undefined ? null : encode(state.will)
    const { clientId, expiryInterval, connected, disconnectedAt } = state
    const owner = this.#o.owner
    this.#add(() =>
      this.#s.putSession!.get(
        clientId,
        owner,
        expiryInterval,
        will,
        connected ? 1 : 0,
        disconnectedAt ?? null,
      ),
    )
  }

  deleteSession(clientId: string): void {
    this.#cancelPuts(clientId)
    // deletes and changes recorded from here on run after this (a new session may reuse its seqs)
    this.#deletes.delete(clientId)
    this.#updates.delete(clientId)
    this.#add(() => {
      this.#s.deleteSession!.get(clientId)
      this.#s.deleteSubs!.get(clientId)
      this.#clearRuns(clientId, true)
      this.#s.clearIn!.get(clientId)
    })
  }

  putSubscription(clientId: string, filter: string, sub: Subscription): void {
    const options = JSON.stringify(sub)
    this.#add(() => this.#s.putSub!.get(clientId, filter, options))
  }

  deleteSubscription(clientId: string, filter: string): void {
    this.#add(() => this.#s.deleteSub!.get(clientId, filter))
  }

  addOutbound(clientId: string, delivery: StoredDelivery): void {
    // kept, not copied (types.ts): changes before the commit fold into it
    let pending = this.#puts.get(clientId)
    if (pending === undefined) {
      const made: PendingRun = { deliveries: new Map(), cancelled: false }
      pending = made
      this.#puts.set(clientId, made)
      this.#add(() => this.#writeRuns(clientId, made))
    }
    pending.deliveries.set(delivery.seq, delivery)
  }

  /** The session's messages added in this group, as runs (in seq order: seqs grow as they are added). */
  #writeRuns(clientId: string, pending: PendingRun): void {
    if (pending.cancelled || pending.deliveries.size === 0) return
    const book = this.#books.get(clientId)
    this.#runs.write(pending.deliveries.values(), (run) => {
      const { id } = this.#s.addRun!.get(clientId, run.first, run.count, run.seqs, run.body) as { id: number }
      // without a book, the file is read when one is needed, and has this run then
      book?.add({
        id,
        first: run.first,
        deltas: run.deltas,
        marks: new Uint8Array(run.count * 3),
        live: run.count,
        marked: false,
      })
    })
  }

  /** The session's runs as they stand in this transaction. */
  #book(clientId: string): RunBook {
    let book = this.#books.get(clientId)
    if (book === undefined) {
      book = new RunBook()
      for (const row of this.#s.runsOf!.all(clientId))
        book.add(
          runOf(
            Number(row.id),
            Number(row.seq),
            row.seqs as Uint8Array,
            (row.marks as Uint8Array | null) ?? null,
          ),
        )
      this.#books.set(clientId, book)
    }
    return book
  }

  /** `goes`: the session ends (nothing of it is kept in memory either), else it starts over empty. */
  #clearRuns(clientId: string, goes: boolean): void {
    this.#s.clearMarks!.get(clientId)
    this.#s.clearRuns!.get(clientId)
    if (goes) this.#books.delete(clientId)
    else this.#books.set(clientId, new RunBook())
  }

  /** Writes a run's marks after this group's changes, or deletes the run once nothing in it is left. */
  #settle(book: RunBook, runs: Set<Run>): void {
    for (const run of runs) {
      if (run.live === 0) {
        this.#s.deleteRun!.get(run.id)
        if (run.marked) this.#s.deleteMarks!.get(run.id)
        book.remove(run)
      } else {
        this.#s.putMarks!.get(run.id, run.deltas.length - run.live, run.marks)
        run.marked = true
      }
    }
  }

  updateOutbound(
    clientId: string,
    seq: number,
    packetId: number | undefined,
    state: 'publish' | 'pubrel',
  ): void {
    const put = this.#puts.get(clientId)?.deliveries.get(seq)
    if (put !== undefined) {
      put.packetId = packetId
      put.state = state
      return
    }
    this.#groupList(this.#updates, clientId, this.#applyUpdates).push(
      seq,
      packetId ?? 0,
      state === 'pubrel' ? 1 : 0,
    )
  }

  /**
   * This group's list for `clientId` in `lists`. The first entry makes it and queues `run` over it
   * at this position of the group, so it runs after what was written before it.
   */
  #groupList(
    lists: Map<string, number[]>,
    clientId: string,
    run: (this: SqliteStore, clientId: string, list: number[]) => void,
  ): number[] {
    let list = lists.get(clientId)
    if (list === undefined) {
      const made: number[] = []
      list = made
      lists.set(clientId, made)
      this.#add(() => run.call(this, clientId, made))
    }
    return list
  }

  /**
   * In the order the changes came, so a later change of the same seq wins. Placed at the client's
   * first change of the group: a delete of the same seq ordered before it leaves nothing to change,
   * which is right (a message is deleted only after its last change).
   */
  #applyUpdates(clientId: string, changes: number[]): void {
    const book = this.#book(clientId)
    const touched = new Set<Run>()
    for (let i = 0; i < changes.length; i += 3) {
      const found = book.find(changes[i]!)
      if (found === undefined) continue
      const { run, index } = found
      const packetId = changes[i + 1]!
      run.marks[index * 3] = CHANGED | (changes[i + 2] === 1 ? PUBREL : 0)
      run.marks[index * 3 + 1] = packetId & 0xff
      run.marks[index * 3 + 2] = packetId >> 8
      touched.add(run)
    }
    this.#settle(book, touched)
  }

  deleteOutbound(clientId: string, seq: number): void {
    const pending = this.#puts.get(clientId)
    if (pending?.deliveries.delete(seq) === true) {
      // Added and acknowledged within one turn: it never reaches the disk
      return
    }
    this.#groupList(this.#deletes, clientId, this.#applyDeletes).push(seq)
  }

  #applyDeletes(clientId: string, seqs: number[]): void {
    const book = this.#book(clientId)
    const touched = new Set<Run>()
    for (const seq of seqs) {
      const found = book.find(seq)
      if (found === undefined) continue
      const { run, index } = found
      run.marks[index * 3] = GONE
      run.live--
      touched.add(run)
    }
    this.#settle(book, touched)
  }

  /** This worker no longer holds the session: what it kept in memory about its runs goes. */
  release(clientId: string): void {
    if (this.#ops.length === 0) this.#books.delete(clientId)
    // its pending writes still use the book: it goes after their commit
    else this.#released.add(clientId)
  }

  clearOutbound(clientId: string): void {
    this.#cancelPuts(clientId)
    this.#deletes.delete(clientId)
    this.#updates.delete(clientId)
    this.#add(() => this.#clearRuns(clientId, false))
  }

  putInbound(clientId: string, packetId: number): void {
    this.#add(() => this.#s.putIn!.get(clientId, packetId))
  }

  deleteInbound(clientId: string, packetId: number): void {
    this.#add(() => this.#s.deleteIn!.get(clientId, packetId))
  }

  #cancelPuts(clientId: string): void {
    const pending = this.#puts.get(clientId)
    if (pending === undefined) return
    pending.cancelled = true
    this.#puts.delete(clientId)
  }

  adopt(isOrphan: (owner: string) => boolean): SessionRecord[] {
    this.flushNow()
    const db = this.#db
    const records: SessionRecord[] = []
    // IMMEDIATE: the owners read and rewritten under one write lock, so a session has one adopter
    this.#blocking(() => db.exec('BEGIN IMMEDIATE'))
    try {
      for (const { owner } of this.#s.owners!.all() as { owner: string }[]) {
        if (owner === this.#o.owner || !isOrphan(owner)) continue
        for (const row of this.#s.sessionsOf!.all(owner)) records.push(this.#record(row))
        this.#s.setOwner!.run(this.#o.owner, owner)
      }
      db.exec('COMMIT')
    } catch (err) {
      db.exec('ROLLBACK')
      throw err
    }
    return records
  }

  #record(row: Row): SessionRecord {
    const clientId = row.client_id as string
    const subscriptions: [string, Subscription][] = this.#s
      .subsOf!.all(clientId)
      .map((s) => [s.filter as string, JSON.parse(s.options as string) as Subscription])
    const outbound: StoredDelivery[] = this.#s
      .outOf!.all(clientId)
      .flatMap((r) =>
        decodeRun(
          Number(r.seq),
          r.seqs as Uint8Array,
          r.body as Uint8Array,
          (r.marks as Uint8Array | null) ?? null,
        ),
      )
    const inbound = this.#s.inOf!.all(clientId).map((r) => Number(r.packet_id))
    return {
      clientId,
      expiryInterval: Number(row.expiry),
      will: row.will === null ? undefined : decode<Will>(row.will as Uint8Array),
      connected: Number(row.connected) === 1,
      disconnectedAt: row.disconnected_at === null ? undefined : Number(row.disconnected_at),
      subscriptions,
      outbound,
      inbound,
    }
  }

  commit(): Promise<boolean> | undefined {
    if (this.#droppedAfterClose) return Promise.resolve(false)
    if (this.#ops.length === 0) return undefined
    this.#promise ??= new Promise((resolve) => this.#waiters.push(resolve))
    return this.#promise
  }

  #flushScheduled(): void {
    this.#scheduled = false
    if (this.#ops.length === 0 || this.#closed) return
    // Another worker holds the write lock: try again in a millisecond rather than sleep in SQLite's
    // busy handler (1, 2, 5, 10… ms with this worker's event loop stopped); meanwhile this worker
    // serves its clients and the group grows. After busyTimeoutMs the blocking path decides.
    const locked = this.#tryLock()
    if (locked === 'busy') {
      const now = performance.now()
      this.#lockWaitSince ??= now
      if (now - this.#lockWaitSince < (this.#o.busyTimeoutMs ?? 5000)) {
        this.#scheduled = true
        setTimeout(() => this.#flushScheduled(), 1)
        return
      }
    }
    this.#lockWaitSince = undefined
    this.#flush(locked === 'locked')
  }

  /** BEGIN IMMEDIATE without waiting: 'busy' when another connection writes, 'error' for anything else. */
  #tryLock(): 'locked' | 'busy' | 'error' {
    try {
      this.#db.exec('BEGIN IMMEDIATE')
      return 'locked'
    } catch (err) {
      const code = (err as { errcode?: number }).errcode
      // SQLITE_BUSY, SQLITE_LOCKED (extended codes keep the primary code in the low byte)
      return code !== undefined && ((code & 0xff) === 5 || (code & 0xff) === 6) ? 'busy' : 'error'
    }
  }

  /**
   * Runs `fn` with SQLite's busy handler on (waiting up to busyTimeoutMs for another connection).
   * The connection's default is not to wait: the group commit tries the lock and comes back a
   * millisecond later, serving clients meanwhile. `PRAGMA busy_timeout = N` takes effect when it is
   * compiled, so it is run with exec() each time: a prepared one, run again, changes nothing (which
   * left every worker asleep in SQLite's busy handler whenever another held the lock).
   */
  #blocking<T>(fn: () => T): T {
    this.#db.exec(`PRAGMA busy_timeout = ${this.#o.busyTimeoutMs ?? 5000}`)
    try {
      return fn()
    } finally {
      this.#db.exec('PRAGMA busy_timeout = 0')
    }
  }

  flushNow(): boolean {
    return this.#flush(false)
  }

  /** Commits what is pending; `locked`: the transaction was begun already. */
  #flush(locked: boolean): boolean {
    if (this.#ops.length === 0) {
      if (locked) this.#db.exec('COMMIT')
      return true
    }
    const ops = this.#ops
    const waiters = this.#waiters
    this.#ops = []
    this.#puts = new Map()
    this.#deletes = new Map()
    this.#updates = new Map()
    this.#waiters = []
    this.#promise = undefined
    const started = performance.now()
    let ok = true
    try {
      if (!locked) this.#blocking(() => this.#db.exec('BEGIN IMMEDIATE'))
      try {
        for (const op of ops) op()
        this.#db.exec('COMMIT')
      } catch (err) {
        if (this.#db.isTransaction) this.#db.exec('ROLLBACK')
        throw err
      }
      if (this.#wal === undefined) this.#o.onCommit?.((performance.now() - started) / 1000, undefined)
    } catch (err) {
      ok = false
      // the books may hold what was rolled back: they are read again when next needed
      this.#books.clear()
      this.#o.onCommit?.((performance.now() - started) / 1000, err)
    }
    if (this.#released.size > 0) {
      for (const clientId of this.#released) this.#books.delete(clientId)
      this.#released.clear()
    }
    this.#checkSize()
    if (ok && this.#wal !== undefined) {
      // Durable once the WAL is on disk: acknowledged after the next fdatasync
      this.#unsynced.push({ started, waiters })
      if (!this.#syncing) this.#syncWal()
      return ok
    }
    for (const resolve of waiters) resolve(ok)
    return ok
  }

  /** One fdatasync of the WAL for every group committed before it started. */
  #syncWal(): void {
    const wal = this.#wal!
    const covered = this.#unsynced
    this.#unsynced = []
    this.#syncing = true
    fdatasync(wal, (err) => {
      this.#syncing = false
      const now = performance.now()
      for (const group of covered) {
        this.#o.onCommit?.((now - group.started) / 1000, err ?? undefined)
        for (const resolve of group.waiters) resolve(err === null)
      }
      if (this.#unsynced.length > 0) this.#syncWal()
      else if (this.#closed) this.#closeWal()
    })
  }

  #closeWal(): void {
    if (this.#wal === undefined) return
    closeSync(this.#wal)
    this.#wal = undefined
  }

  #checkSize(force = false): void {
    // At most every 10 ms while under the cap (the query reads two pragmas, about 30 µs), and at
    // every commit once full, so freed space is noticed at once
    const now = performance.now()
    if (!force && !this.#full && now - this.#sizeCheckedAt < 10) return
    this.#sizeCheckedAt = now
    try {
      const bytes = Number((this.#s.pages!.get() as Row).n) * this.#pageSize
      this.#full = bytes >= this.#o.maxBytes
    } catch {
      // A failing size query leaves the last answer
    }
  }

  stats(): StoreStats {
    if (this.#closed)
      return { bytes: 0, rows: { sessions: 0, subscriptions: 0, outbound: 0, retained: 0, inbound: 0 } }
    const count = (table: string): number =>
      Number((this.#db.prepare(`SELECT count(*) AS n FROM ${table}`).get() as Row).n)
    return this.#blocking(() => ({
      bytes: Number((this.#s.pages!.get() as Row).n) * this.#pageSize,
      rows: {
        sessions: count('sessions'),
        subscriptions: count('subscriptions'),
        outbound:
          Number((this.#db.prepare('SELECT total(n) AS n FROM outbound_runs').get() as Row).n) -
          Number((this.#db.prepare('SELECT total(gone) AS n FROM outbound_marks').get() as Row).n),
        retained: count('retained WHERE body IS NOT NULL'),
        inbound: count('inbound'),
      },
    }))
  }

  close(): void {
    if (this.#closed) return
    this.flushNow()
    this.#closed = true
    this.#db.close()
    // A running fdatasync closes the file when it (and those queued behind it) returned
    if (!this.#syncing) this.#closeWal()
  }
}
