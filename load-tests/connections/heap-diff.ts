/**
 * Where the bytes of an idle connection go, per thread: starts the server in this
 * process (1 worker, broker on, TCP only, admin off), takes a heap snapshot of the
 * main isolate and of the worker isolate with no client and again with `count`
 * idle clients (bench/server-client.ts in a child process), and prints the
 * growth per connection by constructor, biggest first.
 *
 *   node load-tests/connections/heap-diff.ts [count=2000] [top=25]
 */
import { spawn } from 'node:child_process'
import diagnostics from 'node:diagnostics_channel'
import { createInterface } from 'node:readline'
import type { Readable } from 'node:stream'
import { setTimeout as sleep } from 'node:timers/promises'
import { getHeapSnapshot } from 'node:v8'
import type { Worker } from 'node:worker_threads'
import { startServer } from '../../src/main/server.ts'

const count = Number(process.argv[2] ?? 2000)
const top = Number(process.argv[3] ?? 25)
const workers: Worker[] = []
diagnostics.subscribe('worker_threads', (message) => {
  workers.push((message as { worker: Worker }).worker)
})

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

async function snapshots() {
  return {
    main: await summarize(getHeapSnapshot()),
    worker: await summarize((await workers[0]!.getHeapSnapshot()) as Readable),
  }
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

const server = await startServer({
  workers: 1,
  listeners: [{ type: 'tcp', host: '127.0.0.1', port: 0 }],
  admin: { enabled: false },
  persistence: false,
  log: { level: 'warn' },
})
await sleep(500)
const before = await snapshots()
const client = spawn(
  process.execPath,
  [
    new URL('../../bench/server-client.ts', import.meta.url).pathname,
    'hold',
    String(server.listeners[0]!.port),
    String(count),
    '4',
  ],
  { stdio: ['pipe', 'pipe', 'inherit'] },
)
await new Promise<void>((resolve) => {
  createInterface({ input: client.stdout! }).on('line', (line) => {
    if (line.startsWith('ready')) resolve()
  })
})
await sleep(1000)
const after = await snapshots()
client.stdin!.end()
await new Promise((r) => client.once('exit', r))
report('main thread', before.main, after.main)
report('worker thread', before.worker, after.worker)
await server.close()
