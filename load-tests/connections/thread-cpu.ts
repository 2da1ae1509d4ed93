/**
 * Server CPU per connection split by thread: the main thread (accept, hand-off,
 * the task's end), the worker threads (TLS/WS, MQTT, hooks) and V8's helper
 * threads (parallel and concurrent GC, background compilation), with the
 * context switches of each per connection. Where `bench:connections` reads the
 * whole process, this reads /proc/PID/task/TID: which thread the µs go to, and
 * how often the threads hand the core to each other (on a shared core each
 * hand-off to a worker and each task result is a switch).
 *
 *   node load-tests/connections/thread-cpu.ts [--roots DIR,DIR] [--count 3000] [--rounds 3] [--workers 1] [--warmup 1000]
 *
 * A root may carry Node flags for its server after a `#`, space-separated (`DIR#--single-threaded-gc`):
 * the same checkout with and without a V8 flag, interleaved like two checkouts. Two roots are
 * floors rather than checkouts: `bare` (bare-server.ts, one thread answering CONNECT) and
 * `bare-handoff` (bare-handoff-server.ts, mqttd's accept and hand-off to a worker thread that
 * answers CONNECT): what a connection costs before any MQTT, in one thread and in mqttd's design.
 *
 * Each root (default: this checkout) is a checkout whose bin/mqttd.js runs a fresh server per
 * round (TCP listener, admin API, broker, no store), pinned to CPU 0; the load generator
 * (load-tests/generator, `conn`: connect, CONNECT/CONNACK, close at its end, 100 in flight)
 * runs pinned to CPU 1, `warmup` connections (default 1,000), then `count`. V8 is still
 * optimizing after 1,000: about 150 TurboFan compilations in each of the main and worker isolates
 * over the next 15,000 connections, 25 over the 15,000 after, 2 over the next (`--trace-opt`), and
 * the helper threads' µs are mostly that compiling; `--warmup 20000` reads the steady state. Roots alternate within a
 * round and their order flips every round. Before each server starts, the TIME_WAIT sockets of the
 * previous one are waited out (up to 90 s), since a kernel with tens of thousands of them makes
 * every connect and accept dearer.
 *
 * The rounds of one build spread by ±10 % on this machine (a KVM guest). So each round also reports
 * what the machine gave CPU 0: `calib µs`, the CPU a
 * fixed JavaScript workload took on CPU 0 right before and right after the measured connections
 * (the mean of the two; it rises when the host gives the core less per second, e.g. a busy
 * hyperthread sibling, which steal time does not show), and `steal ms`, CPU 0's steal time during
 * the measured connections, to set beside a round that stands out. Linux only; loopback only; bounded in count and time.
 */
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { FLOOR_TARGETS, startServer, type TargetName } from '../compare/targets.ts'

const here = dirname(fileURLToPath(import.meta.url))
const repo = resolve(here, '..', '..')
const generator = join(here, '..', 'generator', 'cli.ts')
const { values } = parseArgs({
  options: {
    roots: { type: 'string', default: repo },
    count: { type: 'string', default: '3000' },
    rounds: { type: 'string', default: '3' },
    workers: { type: 'string', default: '1' },
    warmup: { type: 'string', default: '1000' },
  },
})
const roots = values.roots.split(',')
const count = Number(values.count)
const rounds = Number(values.rounds)
const workers = Number(values.workers)
const warmup = Number(values.warmup)
/** USER_HZ on the Linux builds we run on (see generator/proc-stats.ts). */
const TICK_US = 10_000

type ThreadKind = 'main' | 'worker' | 'v8' | 'other'
interface Reading {
  cpuUs: number
  switches: number
}

/** Node names its threads: the process's first thread is the main one, workers are `WorkerThread`. */
function kindOf(tid: string, pid: number, comm: string): ThreadKind {
  if (tid === String(pid)) return 'main'
  if (comm.startsWith('WorkerThread')) return 'worker'
  if (comm.includes('V8Worker')) return 'v8'
  return 'other'
}

function read(pid: number): Map<ThreadKind, Reading> {
  const out = new Map<ThreadKind, Reading>()
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8')
      const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'))
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
      const status = readFileSync(`/proc/${pid}/task/${tid}/status`, 'utf8')
      const switches =
        Number(/^voluntary_ctxt_switches:\s+(\d+)/m.exec(status)?.[1] ?? 0) +
        Number(/^nonvoluntary_ctxt_switches:\s+(\d+)/m.exec(status)?.[1] ?? 0)
      const kind = kindOf(tid, pid, comm)
      const r = out.get(kind) ?? { cpuUs: 0, switches: 0 }
      r.cpuUs += (Number(fields[11]) + Number(fields[12])) * TICK_US
      r.switches += switches
      out.set(kind, r)
    } catch {
      // the thread ended between the listing and the read
    }
  }
  return out
}

/** CPU 0's steal time so far, in ms (/proc/stat: the eighth value of the `cpu0` line, in USER_HZ ticks). */
function stealMs(): number {
  const line = readFileSync('/proc/stat', 'utf8')
    .split('\n')
    .find((l) => l.startsWith('cpu0 '))
  return line === undefined ? 0 : Number(line.trim().split(/\s+/)[8] ?? 0) * (TICK_US / 1000)
}

/**
 * A fixed workload on CPU 0 (objects, a Map, strings: what a server's JavaScript does), its
 * CPU time in µs as the process itself counts it; the median of five runs after one warm-up.
 */
const CALIBRATION = `
const times = []
for (let r = 0; r < 6; r++) {
  const start = process.cpuUsage()
  const m = new Map()
  for (let i = 0; i < 200000; i++) m.set('k' + i, { i, s: String(i * 7), a: [i, i + 1] })
  let sum = 0
  for (const [k, v] of m) sum += k.length + v.s.length + v.a[1]
  const d = process.cpuUsage(start)
  if (r > 0) times.push(d.user + d.system)
  if (sum < 0) console.log(sum)
}
times.sort((a, b) => a - b)
process.stdout.write(String(times[2]))
`
function calibrate(): number {
  return Number(
    execFileSync('taskset', ['-c', '0', process.execPath, '-e', CALIBRATION], { encoding: 'utf8' }),
  )
}

/** TIME_WAIT sockets (/proc/net/sockstat `tw`): waited out before a server starts, up to 90 s. */
async function drainTimeWait(): Promise<void> {
  const until = Date.now() + 90_000
  for (;;) {
    const tw = Number(/\btw (\d+)/.exec(readFileSync('/proc/net/sockstat', 'utf8'))?.[1] ?? 0)
    if (tw < 100 || Date.now() > until) return
    await sleep(1000)
  }
}

/** mqttd's `/readyz`: its workers took their hand-off ports (listening alone is not ready). */
async function ready(adminPort: number): Promise<void> {
  const until = Date.now() + 60_000
  while (Date.now() < until) {
    const ok = await fetch(`http://127.0.0.1:${adminPort}/readyz`).then(
      (r) => r.status === 200,
      () => false,
    )
    if (ok) return
    await sleep(100)
  }
  throw new Error('the server did not become ready')
}

async function measure(rootSpec: string): Promise<Record<string, number>> {
  const [dirPart, flagPart] = rootSpec.split('#')
  const floor = FLOOR_TARGETS.has(dirPart as TargetName) ? (dirPart as TargetName) : undefined
  const nodeFlags = flagPart === undefined ? [] : flagPart.split(' ').filter((f) => f !== '')
  await drainTimeWait()
  const dir = mkdtempSync(join(tmpdir(), 'cc-threads-'))
  // a floor, or mqttd with its default broker (bench:compare's QoS 1 window does not apply here)
  const server = await startServer(floor ?? 'mqttd', {
    cpus: '0',
    mqttdWorkers: workers,
    mqttdConfig: { broker: {} },
    nodeFlags,
    ...(floor === undefined ? { root: resolve(dirPart!) } : {}),
  })
  const { pid, port } = server
  try {
    if (server.adminPort !== undefined) await ready(server.adminPort)
    const out = join(dir, 'result.json')
    const conn = (n: number) =>
      execFileSync(
        'taskset',
        [
          '-c',
          '1',
          process.execPath,
          generator,
          'conn',
          '--transport',
          'tcp',
          '--connections',
          String(n),
          '--concurrency',
          '100',
          '--timeout',
          '30000',
          '--duration',
          '120',
          '--port',
          String(port),
          '--out',
          out,
          '--quiet',
        ],
        { stdio: ['ignore', 'ignore', 'pipe'] },
      )
    // in runs of at most 5,000, as the generator holds each run's connections open to its end and a
    // process may have about 19k descriptors here
    const runs = (n: number) => {
      let connected = 0
      for (let left = n; left > 0; left -= 5000) {
        conn(Math.min(left, 5000))
        const result = JSON.parse(readFileSync(out, 'utf8')) as { connected: number; failed: number }
        if (result.failed > 0) throw new Error(`${result.failed} connections failed`)
        connected += result.connected
      }
      return connected
    }
    // warm-up: JIT, first GCs
    runs(warmup)
    await sleep(1000)
    const calibBefore = calibrate()
    const before = read(pid)
    const stealBefore = stealMs()
    const connected = runs(count)
    // the generator closes every connection at its end: a second for the last closes
    await sleep(1000)
    const after = read(pid)
    const steal = stealMs() - stealBefore
    const calib = (calibBefore + calibrate()) / 2
    const row: Record<string, number> = {}
    let total = 0
    for (const kind of ['main', 'worker', 'v8', 'other'] as const) {
      const a = after.get(kind) ?? { cpuUs: 0, switches: 0 }
      const b = before.get(kind) ?? { cpuUs: 0, switches: 0 }
      row[`${kind} µs`] = Math.round((a.cpuUs - b.cpuUs) / connected)
      row[`${kind} switches`] = Math.round(((a.switches - b.switches) / connected) * 100) / 100
      total += a.cpuUs - b.cpuUs
    }
    row['total µs'] = Math.round(total / connected)
    row['calib µs'] = Math.round(calib)
    row['steal ms'] = Math.round(steal)
    return row
  } finally {
    await server.stop()
    rmSync(dir, { recursive: true, force: true })
  }
}

for (let round = 0; round < rounds; round++) {
  const order = round % 2 === 0 ? roots : [...roots].reverse()
  for (const root of order) {
    const row = await measure(root)
    process.stdout.write(`${JSON.stringify({ round: round + 1, root, ...row })}\n`)
  }
}
