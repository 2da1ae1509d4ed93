/**
 * The outbound table's layout: a rowid table with its `(client_id, seq)` key
 * index (mqttd before) against `WITHOUT ROWID` (now), under what a QoS 1 flood
 * to one persistent subscriber writes: per group commit, `burst` inserts of a
 * 64-byte message's row and a range delete of the rows acknowledged, which
 * were inserted `lag` groups earlier (the subscriber's queue). Each layout runs
 * in its own process, alternating, and the WAL is checkpointed every 150
 * groups (as the main thread does) to count the pages each commit wrote.
 *
 * Prints ms per group commit, µs per row and WAL pages per commit for each
 * layout, medians over the rounds, and the ratio now / before.
 *
 * usage: node bench/store-outbound.bench.ts [rounds=5] [burst=110] [lag=6] [groups=3000]
 */
import { execFileSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { DatabaseSync } from 'node:sqlite'
import { fileURLToPath } from 'node:url'

type Layout = 'rowid' | 'without-rowid'

interface Result {
  msPerCommit: number
  pagesPerCommit: number
}

function run(layout: Layout, burst: number, lag: number, groups: number): Result {
  const dir = mkdtempSync(join(tmpdir(), 'mqttd-outbound-bench-'))
  const db = new DatabaseSync(join(dir, 'mqttd.db'))
  try {
    db.exec('PRAGMA journal_mode = WAL')
    db.exec('PRAGMA synchronous = NORMAL')
    db.exec('PRAGMA wal_autocheckpoint = 0')
    db.exec(`CREATE TABLE outbound (client_id TEXT NOT NULL, seq INTEGER NOT NULL, packet_id INTEGER,
      state INTEGER NOT NULL, body BLOB NOT NULL, PRIMARY KEY (client_id, seq))${layout === 'without-rowid' ? ' WITHOUT ROWID' : ''}`)
    const insert = db.prepare(
      'INSERT OR REPLACE INTO outbound (client_id, seq, packet_id, state, body) VALUES (?, ?, ?, ?, ?)',
    )
    const deleteRange = db.prepare('DELETE FROM outbound WHERE client_id = ? AND seq BETWEEN ? AND ?')
    const checkpoint = db.prepare('PRAGMA wal_checkpoint(RESTART)')
    // a 64-byte payload with its topic and the codec's header, as message-codec.ts stores it
    const body = new Uint8Array(95).fill(7)
    const clientId = 'lt-abcdefgh-s0'
    let seq = 0
    let deleted = 0
    let pages = 0
    let ms = 0
    for (let g = 0; g < groups; g++) {
      const started = performance.now()
      db.exec('BEGIN IMMEDIATE')
      for (let i = 0; i < burst; i++) insert.get(clientId, seq, (seq++ % 65535) + 1, 0, body)
      if (g >= lag) {
        deleteRange.get(clientId, deleted, deleted + burst - 1)
        deleted += burst
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
  const [, , , layout, burst, lag, groups] = process.argv
  process.stdout.write(JSON.stringify(run(layout as Layout, Number(burst), Number(lag), Number(groups))))
} else {
  const [rounds = 5, burst = 110, lag = 6, groups = 3000] = process.argv.slice(2).map(Number)
  const results: Record<Layout, Result[]> = { rowid: [], 'without-rowid': [] }
  for (let r = 0; r < rounds; r++) {
    for (const layout of ['rowid', 'without-rowid'] as const) {
      const out = execFileSync(
        process.execPath,
        [fileURLToPath(import.meta.url), '--child', layout, String(burst), String(lag), String(groups)],
        { encoding: 'utf8' },
      )
      results[layout].push(JSON.parse(out) as Result)
    }
  }
  const row = (layout: Layout) => {
    const ms = median(results[layout].map((x) => x.msPerCommit))
    const pages = median(results[layout].map((x) => x.pagesPerCommit))
    return { ms, pages }
  }
  const before = row('rowid')
  const now = row('without-rowid')
  console.log(
    `outbound table, ${rounds} rounds of ${groups} group commits of ${burst} rows (deletes ${lag} groups behind), medians`,
  )
  for (const [name, r] of [
    ['rowid + key index', before],
    ['WITHOUT ROWID', now],
  ] as const) {
    console.log(
      `${name.padEnd(18)} ${r.ms.toFixed(3)} ms/commit  ${((r.ms / burst) * 1000).toFixed(2)} µs/row  ${r.pages.toFixed(1)} WAL pages/commit`,
    )
  }
  console.log(
    `ratio WITHOUT ROWID / rowid: time ${(now.ms / before.ms).toFixed(2)}, pages ${(now.pages / before.pages).toFixed(2)}`,
  )
}
