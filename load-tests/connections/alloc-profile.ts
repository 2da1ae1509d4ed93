/**
 * What a connection allocates in the worker, garbage included: where heap-diff.ts
 * and heap-owners.ts weigh what an idle connection keeps, this weighs everything
 * the worker allocates for one connection from hand-off to close. That decides
 * how often the worker's young generation fills up: each scavenge copies every
 * connection still held at the time, and promotes it at the next.
 *
 * Runs the server in this process (1 worker, broker on, TCP only, admin off, no
 * store), warms it up with the load generator (`conn`: CONNECT, CONNACK, close,
 * 100 in flight), then takes a sampling heap profile of the worker thread
 * (`worker.startHeapProfile()`, objects a GC collected included) over `count`
 * more connections and prints bytes per connection by function, own
 * allocations and with what the function calls. The sampling interval is 256
 * bytes, so a row below about 50 B per connection is noise.
 *
 *   node load-tests/connections/alloc-profile.ts [--count 5000] [--warmup 20000] [--top 25] [--root DIR]
 *
 * `--root` profiles another checkout's server (its src/main/server.ts) with this
 * file's generator, to compare two builds. Loopback only; bounded in count and time.
 */
import { parseArgs } from 'node:util'
import { profileWorker } from './in-process-server.ts'

const { values } = parseArgs({
  options: {
    count: { type: 'string', default: '5000' },
    warmup: { type: 'string', default: '20000' },
    top: { type: 'string', default: '25' },
    root: { type: 'string', default: new URL('../..', import.meta.url).pathname },
  },
})
const count = Number(values.count)
const warmup = Number(values.warmup)
const top = Number(values.top)

/** The parts of a sampling heap profile (V8's `SamplingHeapProfile`) read here. */
interface ProfileNode {
  callFrame: { functionName: string; url: string; lineNumber: number }
  selfSize: number
  children: ProfileNode[]
}

function frameName(node: ProfileNode): string {
  const { functionName, url, lineNumber } = node.callFrame
  return `${functionName || '(anonymous)'} ${url.split('/').at(-1) ?? ''}:${lineNumber + 1}`
}

/** Own and inclusive bytes per function name; a recursive function counts once in its own stack. */
function tally(root: ProfileNode): { own: Map<string, number>; inclusive: Map<string, number> } {
  const own = new Map<string, number>()
  const inclusive = new Map<string, number>()
  const stack: Array<{ node: ProfileNode; names: Set<string> }> = [{ node: root, names: new Set() }]
  while (stack.length > 0) {
    const { node, names } = stack.pop()!
    const name = frameName(node)
    const below = names.has(name) ? names : new Set(names).add(name)
    own.set(name, (own.get(name) ?? 0) + node.selfSize)
    for (const n of below) inclusive.set(n, (inclusive.get(n) ?? 0) + node.selfSize)
    for (const child of node.children) stack.push({ node: child, names: below })
  }
  return { own, inclusive }
}

function print(title: string, sizes: Map<string, number>, skip: (name: string) => boolean): void {
  process.stdout.write(`\n${title}\n`)
  const rows = [...sizes].filter(([name]) => !skip(name)).sort((a, b) => b[1] - a[1])
  for (const [name, bytes] of rows.slice(0, top)) {
    process.stdout.write(`  ${(bytes / count).toFixed(0).padStart(6)} B  ${name}\n`)
  }
}

const text = await profileWorker(values.root, warmup, count, (worker) =>
  worker.startHeapProfile({
    sampleInterval: 256,
    // deep enough for the connect path's stacks (V8's default is 16), so "with what each calls" adds up
    stackDepth: 64,
    includeObjectsCollectedByMinorGC: true,
    includeObjectsCollectedByMajorGC: true,
  }),
)
const { own, inclusive } = tally((JSON.parse(text) as { head: ProfileNode }).head)
const total = [...own.values()].reduce((a, b) => a + b, 0)
process.stdout.write(
  `worker thread: ${(total / count).toFixed(0)} B allocated per connection (${count} connections after ${warmup}; root ${values.root})\n`,
)
print('own allocations, by function', own, () => false)
print('with what each calls', inclusive, (name) => name.startsWith('(root)'))
