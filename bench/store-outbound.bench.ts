/**
 * The outbound layout: a row per message (`WITHOUT ROWID`, keyed by client id
 * and seq: mqttd before runs) against runs (now: a row per session per group
 * commit, plus a small marks row while it is partly acknowledged; see
 * src/broker/store/outbound-runs.ts), under what a QoS 1 flood to persistent
 * subscribers writes. Per group commit, each of `sessions` sessions gets `per`
 * 64-byte messages, and the messages added `lag` groups earlier are
 * acknowledged, half in one group and half in the next (so runs pay for their
 * marks row too). Each layout runs in its own process, alternating, and the WAL
 * is checkpointed every 150 groups (as the main thread does) to count the pages
 * each commit wrote.
 *
 * Prints ms per group commit, µs per message and WAL pages per commit for each
 * layout, medians over the rounds, and the ratio runs / rows.
 *
 * usage: node bench/store-outbound.bench.ts [rounds=5] [sessions=10] [per=33] [lag=3] [groups=3000]
 */
import { execFileSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { DatabaseSync } from 'node:sqlite'
import { fileURLToPath } from 'node:url'

type Layout = 'rows' | 'runs'

interface Result {
  msPerCommit: number
  pagesPerCommit: number
}

// a 64-byte payload with its topic and the codec's header, as message-codec.ts stores it
const BODY = 95

function run(layout: Layout, sessions: number, per: number, lag: number, groups: number): Result {
  const dir = mkdtempSync(join(tmpdir(), 'mqttd-outbound-bench-'))
  const db = new DatabaseSync(join(dir, 'mqttd.db'))
  try {
    db.exec('PRAGMA journal_mode = WAL')
    db.exec('PRAGMA synchronous = NORMAL')
    db.exec('PRAGMA wal_autocheckpoint = 0')
    // the tables as sqlite-store.ts makes them, before and now
    db.exec(`CREATE TABLE outbound (client_id TEXT NOT NULL, seq INTEGER NOT NULL, packet_id INTEGER,
      state INTEGER NOT NULL, body BLOB NOT NULL, PRIMARY KEY (client_id, seq)) WITHOUT ROWID`)
    db.exec(`CREATE TABLE outbound_runs (id INTEGER PRIMARY KEY, client_id TEXT NOT NULL, seq INTEGER NOT NULL,
      n INTEGER NOT NULL, seqs BLOB NOT NULL, body BLOB NOT NULL)`)
    db.exec('CREATE INDEX outbound_runs_client ON outbound_runs(client_id, seq)')
    db.exec(
      'CREATE TABLE outbound_marks (run INTEGER PRIMARY KEY, gone INTEGER NOT NULL, marks BLOB NOT NULL)',
    )
    const insert = db.prepare(
      'INSERT OR REPLACE INTO outbound (client_id, seq, packet_id, state, body) VALUES (?, ?, ?, ?, ?)',
    )
    const deleteRange = db.prepare('DELETE FROM outbound WHERE client_id = ? AND seq BETWEEN ? AND ?')
    const addRun = db.prepare(
      'INSERT INTO outbound_runs (client_id, seq, n, seqs, body) VALUES (?, ?, ?, ?, ?) RETURNING id',
    )
    const putMarks = db.prepare('INSERT OR REPLACE INTO outbound_marks (run, gone, marks) VALUES (?, ?, ?)')
    const deleteRun = db.prepare('DELETE FROM outbound_runs WHERE id = ?')
    const deleteMarks = db.prepare('DELETE FROM outbound_marks WHERE run = ?')
    const checkpoint = db.prepare('PRAGMA wal_checkpoint(RESTART)')
    const body = new Uint8Array(BODY).fill(7)
    const runBody = new Uint8Array((BODY + 7) * per).fill(7)
    const seqs = new Uint8Array(4 * per)
    const marks = new Uint8Array(3 * per)
    const half = Math.floor(per / 2)
    const clients = Array.from({ length: sessions }, (_, i) => `lt-abcdefgh-s${i}`)
    // runs: each session's run ids by group
    const runIds: number[][] = clients.map(() => [])
    let pages = 0
    let ms = 0
    for (let g = 0; g < groups; g++) {
      const started = performance.now()
      db.exec('BEGIN IMMEDIATE')
      for (let c = 0; c < sessions; c++) {
        const clientId = clients[c]!
        const first = g * per
        if (layout === 'rows') {
          for (let i = 0; i < per; i++) insert.get(clientId, first + i, i + 1, 0, body)
          // the first half of group g-lag, then the rest of group g-lag-1
          if (g >= lag) deleteRange.get(clientId, (g - lag) * per, (g - lag) * per + half - 1)
          if (g > lag) deleteRange.get(clientId, (g - lag - 1) * per + half, (g - lag) * per - 1)
        } else {
          runIds[c]![g] = (addRun.get(clientId, first, per, seqs, runBody) as { id: number }).id
          if (g >= lag) putMarks.get(runIds[c]![g - lag]!, half, marks)
          if (g > lag) {
            deleteRun.get(runIds[c]![g - lag - 1]!)
            deleteMarks.get(runIds[c]![g - lag - 1]!)
          }
        }
      }
      db.exec('COMMIT')
      ms += performance.now() - started
      if (g % 150 === 149) pages += Number((checkpoint.get() as { log: number }).log)
    }
    return { msPerCommit: ms / groups, pagesPerCommit: pages / (Math.floor(groups / 150) * 150) }
  } finally {
    db.close()
    rmSync(dir, { recursive: true, force: true })
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!

if (process.argv[2] === '--child') {
  const [layout, ...numbers] = process.argv.slice(3)
  const [sessions, per, lag, groups] = numbers.map(Number) as [number, number, number, number]
  process.stdout.write(JSON.stringify(run(layout as Layout, sessions, per, lag, groups)))
} else {
  const [rounds = 5, sessions = 10, per = 33, lag = 3, groups = 3000] = process.argv.slice(2).map(Number)
  const results: Record<Layout, Result[]> = { rows: [], runs: [] }
  for (let r = 0; r < rounds; r++) {
    for (const layout of ['rows', 'runs'] as const) {
      const out = execFileSync(
        process.execPath,
        [fileURLToPath(import.meta.url), '--child', layout, ...[sessions, per, lag, groups].map(String)],
        { encoding: 'utf8' },
      )
      results[layout].push(JSON.parse(out) as Result)
    }
  }
  const row = (layout: Layout) => ({
    ms: median(results[layout].map((x) => x.msPerCommit)),
    pages: median(results[layout].map((x) => x.pagesPerCommit)),
  })
  const before = row('rows')
  const now = row('runs')
  const messages = sessions * per
  console.log(
    `outbound layout, ${rounds} rounds of ${groups} group commits, ${sessions} sessions × ${per} messages each (acknowledged ${lag} groups behind), medians`,
  )
  for (const [name, r] of [
    ['row per message', before],
    ['runs', now],
  ] as const) {
    console.log(
      `${name.padEnd(16)} ${r.ms.toFixed(3)} ms/commit  ${((r.ms / messages) * 1000).toFixed(2)} µs/message  ${r.pages.toFixed(1)} WAL pages/commit`,
    )
  }
  console.log(
    `ratio runs / rows: time ${(now.ms / before.ms).toFixed(2)}, pages ${(now.pages / before.pages).toFixed(2)}`,
  )
}
