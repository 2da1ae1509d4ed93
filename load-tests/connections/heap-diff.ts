/**
 * Where the bytes of an idle connection go, per thread: starts the server in this
 * process (1 worker, broker on, TCP only, admin off), takes a heap snapshot of the
 * main isolate and of the worker isolate with no client and again with `count`
 * idle clients (bench/server-client.ts in a child process), and prints the
 * growth per connection by constructor, biggest first.
 *
 *   node load-tests/connections/heap-diff.ts [count=2000] [top=25]
 */
import type { Readable } from 'node:stream'
import { idleHeaps } from './idle-heap-run.ts'

const count = Number(process.argv[2] ?? 2000)
const top = Number(process.argv[3] ?? 25)

interface Snapshot {
  snapshot: { meta: { node_fields: string[]; node_types: [string[]] } }
  nodes: number[]
  strings: string[]
}

/** Self size and count per constructor/kind name. */
async function summarize(stream: Readable): Promise<Map<string, { size: number; count: number }>> {
  let text = ''
  stream.setEncoding('utf8')
  for await (const chunk of stream) text += chunk
  const snap = JSON.parse(text) as Snapshot
  const fields = snap.snapshot.meta.node_fields
  const width = fields.length
  const typeAt = fields.indexOf('type')
  const nameAt = fields.indexOf('name')
  const sizeAt = fields.indexOf('self_size')
  const types = snap.snapshot.meta.node_types[0]
  const out = new Map<string, { size: number; count: number }>()
  for (let i = 0; i < snap.nodes.length; i += width) {
    const type = types[snap.nodes[i + typeAt]!]!
    const name =
      type === 'object' || type === 'closure' ? snap.strings[snap.nodes[i + nameAt]!]! : `(${type})`
    const key = type === 'closure' ? `closure ${name}` : name
    const e = out.get(key) ?? { size: 0, count: 0 }
    e.size += snap.nodes[i + sizeAt]!
    e.count++
    out.set(key, e)
  }
  return out
}

function report(thread: string, a: Map<string, { size: number; count: number }>, b: typeof a): void {
  const rows = [...b]
    .map(([k, v]) => {
      const before = a.get(k) ?? { size: 0, count: 0 }
      return { k, size: (v.size - before.size) / count, n: (v.count - before.count) / count }
    })
    .sort((x, y) => y.size - x.size)
  const total = rows.reduce((s, r) => s + r.size, 0)
  process.stdout.write(`\n${thread}: ${total.toFixed(0)} B of JS heap per connection\n`)
  for (const r of rows.slice(0, top)) {
    process.stdout.write(`  ${r.size.toFixed(0).padStart(6)} B  ${r.n.toFixed(2).padStart(5)}×  ${r.k}\n`)
  }
}

const { before, after } = await idleHeaps(count, summarize)
report('main thread', before.main, after.main)
report('worker thread', before.worker, after.worker)
