/**
 * What a connection costs the worker's garbage collector: the collections V8
 * ran in each isolate while `count` connections came and went, and what they
 * copied and promoted. alloc-profile.ts says what a connection allocates; this
 * says what that and what it holds cost the collector. Counts and bytes do not
 * move with the machine's speed the way CPU time does (thread-cpu.ts), so two
 * builds can be compared from one run each.
 *
 * Runs the server in a child process under `--trace-gc-nvp` (V8 prints one
 * JSON line per collection, each isolate's with its address), as
 * alloc-profile.ts does: 1 worker, the broker, TCP only, admin off, no store;
 * `warmup` connections first, then `count` measured (CONNECT, CONNACK, close,
 * 100 in flight, in runs of 5,000 held to each run's end). The main thread's
 * isolate is the one whose collection, forced right before the measured
 * connections (`--expose-gc`), shows in the trace; the other is the worker's,
 * left alone (a heap snapshot to name it would shrink its young generation and
 * make the measured collections more than the steady state's).
 *
 *   node load-tests/connections/gc-trace.ts [--count 10000] [--warmup 20000] [--root DIR]
 *
 * `--root` measures another checkout's server with this file's generator.
 * Loopback only; bounded in count and time.
 */
import { spawn } from 'node:child_process'
import { join, resolve } from 'node:path'
import { createInterface } from 'node:readline'
import { setTimeout as sleep } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'

const { values } = parseArgs({
  options: {
    count: { type: 'string', default: '10000' },
    warmup: { type: 'string', default: '20000' },
    root: { type: 'string', default: new URL('../..', import.meta.url).pathname },
    child: { type: 'boolean', default: false },
  },
})
const count = Number(values.count)
const warmup = Number(values.warmup)

const MARK = 'gc-trace: measured connections start'
const END = 'gc-trace: measured connections end'

/** The fields of V8's `--trace-gc-nvp` line read here. */
interface GcLine {
  pause: number
  gc: string
  reason: string
  promoted: number
  new_space_survived: number
}

async function child(): Promise<void> {
  const { connectionRuns, inProcessConfig } = await import('./in-process-server.ts')
  const { startServer } = (await import(
    join(resolve(values.root), 'src', 'main', 'server.ts')
  )) as typeof import('../../src/main/server.ts')
  const server = await startServer(inProcessConfig)
  try {
    const port = server.listeners[0]!.port
    await connectionRuns(port, warmup)
    await sleep(1000)
    // a young-generation GC in this (the main) thread's isolate: names it in the trace
    ;(globalThis as { gc?: (o: { type: string }) => void }).gc?.({ type: 'minor' })
    process.stdout.write(`${MARK}\n`)
    await connectionRuns(port, count)
    // the generator closes its connections at its end: the worker's close path is part of the cost
    await sleep(1000)
    process.stdout.write(`${END}\n`)
  } finally {
    await server.close()
  }
}

interface Tally {
  collections: number
  pauseMs: number
  promoted: number
  survived: number
}

async function parent(): Promise<void> {
  const proc = spawn(
    process.execPath,
    ['--trace-gc-nvp', '--expose-gc', fileURLToPath(import.meta.url), '--child', ...process.argv.slice(2)],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  )
  let main: string | undefined
  let measuring = false
  // per isolate, per collector ("s" scavenge, "mc" mark-compact, ...)
  const tallies = new Map<string, Map<string, Tally>>()
  for await (const line of createInterface({ input: proc.stdout })) {
    if (line === MARK) measuring = true
    else if (line === END) measuring = false
    const m = /^\[\d+:(0x[0-9a-f]+)(?::\d+)?\]\s+[\d.]+ ms: GC: (\{.*\})$/.exec(line)
    if (m === null) continue
    const isolate = m[1]!
    const gc = JSON.parse(m[2]!) as GcLine
    if (!measuring) {
      if (gc.reason === 'testing') main = isolate
      continue
    }
    const byKind = tallies.get(isolate) ?? new Map<string, Tally>()
    tallies.set(isolate, byKind)
    const t = byKind.get(gc.gc) ?? { collections: 0, pauseMs: 0, promoted: 0, survived: 0 }
    byKind.set(gc.gc, t)
    t.collections++
    t.pauseMs += gc.pause
    t.promoted += gc.promoted
    t.survived += gc.new_space_survived
  }
  const code = await new Promise<number | null>((done) => proc.on('close', done))
  if (code !== 0) throw new Error(`the measured server exited with ${code}`)
  process.stdout.write(`${count} connections after ${warmup}; root ${values.root}\n`)
  for (const [isolate, byKind] of tallies) {
    const thread = isolate === main ? 'main' : 'worker'
    for (const [kind, t] of byKind) {
      process.stdout.write(
        `${JSON.stringify({
          thread,
          collector: kind,
          collections: t.collections,
          'pause ms': Math.round(t.pauseMs * 10) / 10,
          'pause µs per connection': Math.round((t.pauseMs * 1000 * 10) / count) / 10,
          'promoted B per connection': Math.round(t.promoted / count),
          'survived B per connection': Math.round(t.survived / count),
        })}\n`,
      )
    }
  }
}

if (values.child) await child()
else await parent()
