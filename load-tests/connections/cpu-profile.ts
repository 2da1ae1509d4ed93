/**
 * Where the worker thread's CPU goes per connection: alloc-profile.ts weighs what
 * a connection allocates, this weighs what it runs. Same server in this process
 * (1 worker, broker on, TCP only, admin off, no store) and the same load
 * generator (`conn`: CONNECT, CONNACK, close at each run's end, 100 in flight,
 * runs of 5,000); after `warmup` connections, the worker's V8 CPU profile
 * (`worker.startCpuProfile()`) over `count` more, the closes included. Prints the
 * worker's busy time per connection and, per function, its own time and the
 * time with what it calls, in µs per connection. Samples are about 1 ms apart,
 * so a row below about 0.3 µs per connection (over 10,000) is noise.
 *
 * Native frames are named as V8 sees them: `writeBuffer` and `close` are the
 * write and close system calls (on loopback the kernel runs the peer's receive
 * path inside them), `(garbage collector)` is this thread's share of the GC
 * (V8's helper threads run the rest), `(program)` is native work V8 cannot
 * attribute (libuv, handle setup). The main thread, which accepts and hands
 * off, is not in this profile: thread-cpu.ts splits the CPU by thread.
 *
 *   node load-tests/connections/cpu-profile.ts [--count 10000] [--warmup 20000] [--top 40] [--root DIR] [--out FILE]
 *
 * `--root` profiles another checkout's server with this file's generator; `--out` keeps the
 * profile (`.cpuprofile`, for Chrome DevTools). Loopback only; bounded in count and time.
 */
import { writeFileSync } from 'node:fs'
import { parseArgs } from 'node:util'
import { profileWorker } from './in-process-server.ts'

const { values } = parseArgs({
  options: {
    count: { type: 'string', default: '10000' },
    warmup: { type: 'string', default: '20000' },
    top: { type: 'string', default: '40' },
    root: { type: 'string', default: new URL('../..', import.meta.url).pathname },
    out: { type: 'string' },
  },
})
const count = Number(values.count)
const warmup = Number(values.warmup)
const top = Number(values.top)

/** The parts of V8's `Profiler.Profile` read here. */
interface CpuProfile {
  nodes: Array<{
    id: number
    callFrame: { functionName: string; url: string; lineNumber: number }
    children?: number[]
  }>
  samples: number[]
  /** µs since the previous sample; sample i covers the time up to sample i + 1. */
  timeDeltas: number[]
}

/** Own and inclusive µs per function name; a recursive function counts once per sample. */
function tally(profile: CpuProfile): {
  busy: number
  own: Map<string, number>
  inclusive: Map<string, number>
} {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]))
  const parent = new Map<number, number>()
  for (const n of profile.nodes) for (const child of n.children ?? []) parent.set(child, n.id)
  const name = (id: number) => {
    const { functionName, url, lineNumber } = byId.get(id)!.callFrame
    return `${functionName || '(anonymous)'} ${url.split('/').at(-1) ?? ''}:${lineNumber + 1}`
  }
  const own = new Map<string, number>()
  const inclusive = new Map<string, number>()
  let busy = 0
  for (let i = 0; i < profile.samples.length; i++) {
    const leaf = profile.samples[i]!
    if (byId.get(leaf)!.callFrame.functionName === '(idle)') continue
    const dt = profile.timeDeltas[i + 1] ?? 0
    busy += dt
    own.set(name(leaf), (own.get(name(leaf)) ?? 0) + dt)
    const seen = new Set<string>()
    for (let id: number | undefined = leaf; id !== undefined; id = parent.get(id)) {
      const frame = name(id)
      if (seen.has(frame)) continue
      seen.add(frame)
      inclusive.set(frame, (inclusive.get(frame) ?? 0) + dt)
    }
  }
  return { busy, own, inclusive }
}

function print(title: string, times: Map<string, number>, skip: (name: string) => boolean): void {
  process.stdout.write(`\n${title}\n`)
  const rows = [...times].filter(([name]) => !skip(name)).sort((a, b) => b[1] - a[1])
  for (const [name, us] of rows.slice(0, top)) {
    process.stdout.write(`  ${(us / count).toFixed(2).padStart(6)} µs  ${name}\n`)
  }
}

const text = await profileWorker(values.root, warmup, count, (worker) => worker.startCpuProfile())
if (values.out !== undefined) writeFileSync(values.out, text)
const { busy, own, inclusive } = tally(JSON.parse(text) as CpuProfile)
process.stdout.write(
  `worker thread: ${(busy / count).toFixed(1)} µs busy per connection (${count} connections after ${warmup}; root ${values.root})\n`,
)
print('own time, by function', own, () => false)
print('with what each calls', inclusive, (name) => name.startsWith('(root)'))
