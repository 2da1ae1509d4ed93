/**
 * Where should the store's commits run? Two worker threads each produce
 * QoS 1 "deliveries" (one outbound row of a 64-byte message per publish, as
 * the broker writes them) in bursts, one burst per event-loop turn, and wait
 * for each burst's commit before "acknowledging" it:
 *
 * - in-worker: each worker commits its own burst on its own `DatabaseSync`
 *   connection (one transaction per turn), the two serializing on SQLite's
 *   write lock (busy_timeout);
 * - store thread: the workers post their bursts to one store thread that
 *   commits everything that arrived in one of its turns in one transaction and
 *   answers each worker;
 * - wal-fsync (FULL only): each worker commits on its own connection with
 *   sync NORMAL (no fsync on the event loop), then fdatasyncs the WAL file on
 *   libuv's thread pool and acknowledges once that returns; commits made while
 *   an fdatasync runs wait for the next one, so one fsync covers a group of
 *   turns (what the broker's `sync: 'always'` does, sqlite-store.ts).
 *
 * Prints rows/s and the p50/p99 time from a burst's creation to its commit
 * acknowledgement, for sync NORMAL (batch) and FULL (always).
 *
 * usage: node bench/store-commit.bench.ts [seconds=3] [burst=50]
 */
import { fdatasync, mkdtempSync, openSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { DatabaseSync } from 'node:sqlite'
import {
  isMainThread,
  MessageChannel,
  type MessagePort,
  parentPort,
  Worker,
  workerData,
} from 'node:worker_threads'

const SCHEMA = `CREATE TABLE IF NOT EXISTS outbound (client_id TEXT NOT NULL, seq INTEGER NOT NULL, packet_id INTEGER,
  state INTEGER NOT NULL, body BLOB NOT NULL, PRIMARY KEY (client_id, seq))`

function open(file: string, sync: string): DatabaseSync {
  const db = new DatabaseSync(file, { timeout: 5000 })
  db.exec('PRAGMA journal_mode = WAL')
  db.exec(`PRAGMA synchronous = ${sync}`)
  db.exec(SCHEMA)
  return db
}

interface Job {
  role: 'producer' | 'store'
  mode: 'in-worker' | 'store-thread' | 'wal-fsync'
  file: string
  sync: string
  seconds: number
  burst: number
  id: number
  port?: MessagePort
}

type Row = [string, number, Uint8Array]

function commit(db: DatabaseSync, insert: ReturnType<DatabaseSync['prepare']>, rows: Row[]): void {
  db.exec('BEGIN IMMEDIATE')
  for (const [client, seq, body] of rows) insert.run(client, seq, null, 0, body)
  db.exec('COMMIT')
}

async function producer(job: Job): Promise<void> {
  const body = new Uint8Array(96)
  const latencies: number[] = []
  let rows = 0
  let seq = 0
  const end = performance.now() + job.seconds * 1000
  const db =
    job.mode === 'store-thread' ? undefined : open(job.file, job.mode === 'wal-fsync' ? 'NORMAL' : job.sync)
  const wal = job.mode === 'wal-fsync' ? openSync(`${job.file}-wal`, 'r+') : undefined
  // wal-fsync: commits waiting for the next fdatasync, and whether one is running
  let unsynced: number[] = []
  let syncing = false
  const syncWal = (): void => {
    syncing = true
    const covered = unsynced
    unsynced = []
    fdatasync(wal!, () => {
      const now = performance.now()
      for (const started of covered) latencies.push(now - started)
      for (let i = 0; i < covered.length; i++) pending.delete(-++synced)
      syncing = false
      if (unsynced.length > 0) syncWal()
    })
  }
  let synced = 0
  let committed = 0
  const insert = db?.prepare(
    'INSERT INTO outbound (client_id, seq, packet_id, state, body) VALUES (?, ?, ?, ?, ?)',
  )
  const pending = new Map<number, number>()
  let next = 0
  job.port?.on('message', (id: number) => {
    latencies.push(performance.now() - pending.get(id)!)
    pending.delete(id)
  })
  while (performance.now() < end) {
    const started = performance.now()
    const burst: Row[] = []
    for (let i = 0; i < job.burst; i++) burst.push([`w${job.id}-c${i % 10}`, ++seq, body])
    if (wal !== undefined) {
      commit(db!, insert!, burst)
      pending.set(-++committed, started)
      unsynced.push(started)
      if (!syncing) syncWal()
    } else if (db !== undefined) {
      commit(db, insert!, burst)
      latencies.push(performance.now() - started)
    } else {
      const id = ++next
      pending.set(id, started)
      job.port!.postMessage({ id, rows: burst })
    }
    rows += job.burst
    // The next turn of the event loop (store-thread answers arrive meanwhile)
    await new Promise((r) => setImmediate(r))
    // Backpressure as the broker has it: at most 4 bursts awaiting their commit
    while (pending.size > 4) await new Promise((r) => setTimeout(r, 0))
  }
  while (pending.size > 0) await new Promise((r) => setTimeout(r, 1))
  db?.close()
  job.port?.close()
  parentPort!.postMessage({ rows, latencies })
}

function store(job: Job & { ports: MessagePort[] }): void {
  const db = open(job.file, job.sync)
  const insert = db.prepare(
    'INSERT INTO outbound (client_id, seq, packet_id, state, body) VALUES (?, ?, ?, ?, ?)',
  )
  let group: { port: MessagePort; id: number; rows: Row[] }[] = []
  let scheduled = false
  for (const port of job.ports) {
    port.on('message', (m: { id: number; rows: Row[] }) => {
      group.push({ port, id: m.id, rows: m.rows })
      if (scheduled) return
      scheduled = true
      setImmediate(() => {
        scheduled = false
        const g = group
        group = []
        commit(
          db,
          insert,
          g.flatMap((x) => x.rows),
        )
        for (const x of g) x.port.postMessage(x.id)
      })
    })
  }
  parentPort!.on('message', () => {
    db.close()
    for (const p of job.ports) p.close()
    parentPort!.postMessage('closed')
  })
}

function percentile(xs: number[], p: number): number {
  const sorted = [...xs].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0
}

async function run(mode: Job['mode'], sync: string, seconds: number, burst: number): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'store-bench-'))
  const file = join(dir, 'bench.db')
  open(file, sync).close()
  const url = new URL(import.meta.url)
  const results: Promise<{ rows: number; latencies: number[] }>[] = []
  let storeWorker: Worker | undefined
  const producerPorts: MessagePort[] = []
  if (mode === 'store-thread') {
    const storePorts: MessagePort[] = []
    for (let i = 0; i < 2; i++) {
      const { port1, port2 } = new MessageChannel()
      producerPorts.push(port1)
      storePorts.push(port2)
    }
    storeWorker = new Worker(url, {
      workerData: { role: 'store', mode, file, sync, seconds, burst, id: 0, ports: storePorts },
      transferList: storePorts,
    })
  }
  const cpuBefore = process.cpuUsage()
  const t0 = performance.now()
  for (let id = 0; id < 2; id++) {
    const port = producerPorts[id]
    const w = new Worker(url, {
      workerData: { role: 'producer', mode, file, sync, seconds, burst, id, port },
      transferList: port === undefined ? [] : [port],
    })
    results.push(
      new Promise((resolve, reject) => {
        w.once('message', resolve)
        w.once('error', reject)
      }),
    )
  }
  const done = await Promise.all(results)
  const elapsed = (performance.now() - t0) / 1000
  const cpu = process.cpuUsage(cpuBefore)
  if (storeWorker !== undefined) {
    storeWorker.postMessage('close')
    await new Promise((r) => storeWorker!.once('message', r))
    await storeWorker.terminate()
  }
  rmSync(dir, { recursive: true, force: true })
  const rows = done.reduce((s, r) => s + r.rows, 0)
  const lat = done.flatMap((r) => r.latencies)
  const cpuUs = (cpu.user + cpu.system) / rows
  process.stdout.write(
    `${mode.padEnd(12)} sync ${sync.padEnd(6)} ${Math.round(rows / elapsed)
      .toString()
      .padStart(8)} rows/s  ` +
      `commit ack p50 ${percentile(lat, 50).toFixed(2)} ms  p99 ${percentile(lat, 99).toFixed(2)} ms  ` +
      `CPU ${cpuUs.toFixed(1)} µs/row (whole process)\n`,
  )
}

if (isMainThread) {
  const seconds = Number(process.argv[2] ?? 3)
  const burst = Number(process.argv[3] ?? 50)
  process.stdout.write(
    `store-commit: 2 producer threads, bursts of ${burst} rows per turn, ${seconds} s per run\n`,
  )
  for (const sync of ['NORMAL', 'FULL']) {
    // interleaved, twice, so a busy moment of the shared machine hits both
    for (let round = 0; round < 2; round++) {
      await run('in-worker', sync, seconds, burst)
      await run('store-thread', sync, seconds, burst)
      if (sync === 'FULL') await run('wal-fsync', sync, seconds, burst)
    }
  }
} else {
  const job = workerData as Job & { ports: MessagePort[] }
  if (job.role === 'store') store(job)
  else await producer(job)
}
