/**
 * Who holds the bytes of an idle connection, per thread: like heap-diff.ts
 * (server in this process, 1 worker, broker on, TCP only, admin off; heap
 * snapshots with no client and with `count` idle 3.1.1 clients with
 * keepalive 120, as the load generator's), but grouped by owner rather than
 * by constructor. Each object counts for the nearest per-connection object
 * that dominates it (every path from the GC roots to it passes through that
 * owner: the socket, the Connection, the runner, the hook context, the
 * broker session, the keepalive Timeout, piscina's suspended task, its task
 * record in the main thread); what several owners reach (map entries of the
 * registry and the broker, the TCP wrap, the reader its data listener and
 * the Connection share) is "shared".
 *
 *   node load-tests/connections/heap-owners.ts [count=2000] [keepalive=120]
 */
import type { Readable } from 'node:stream'
import { idleHeaps } from './idle-heap-run.ts'

const count = Number(process.argv[2] ?? 2000)
const keepalive = Number(process.argv[3] ?? 120)
/** Per-connection owners, by constructor name; the generator is piscina's suspended `onMessage`. */
const OWNERS = new Map([
  ['Socket', 'socket (net.Socket, its stream states and listeners)'],
  ['Connection', 'Connection (Duplex, stream states, writer)'],
  ['ConnectionRunner', 'ConnectionRunner (state, queue, closed promise)'],
  ['ConnectionContext', 'hook context (runner options, CONNECT packet)'],
  ['Session', 'broker session'],
  ['Timeout', 'keepalive timer'],
  ['Generator', "piscina's task in the worker (suspended onMessage)"],
  ['TaskInfo', "piscina's task record (main thread)"],
])

interface Snapshot {
  snapshot: {
    meta: { node_fields: string[]; node_types: [string[]]; edge_fields: string[]; edge_types: [string[]] }
  }
  nodes: number[]
  edges: number[]
  strings: string[]
}

/** Self sizes summed per owner (dominator tree, Cooper–Harvey–Kennedy). */
async function owners(stream: Readable): Promise<Map<string, number>> {
  let text = ''
  stream.setEncoding('utf8')
  for await (const chunk of stream) text += chunk
  const snap = JSON.parse(text) as Snapshot
  const { node_fields: nf, node_types, edge_fields: ef, edge_types } = snap.snapshot.meta
  const NF = nf.length
  const EF = ef.length
  const [iType, iName, iSize, iEdges] = ['type', 'name', 'self_size', 'edge_count'].map((f) => nf.indexOf(f))
  const [eType, eTo] = ['type', 'to_node'].map((f) => ef.indexOf(f))
  const weak = edge_types[0].indexOf('weak')
  const objectType = node_types[0].indexOf('object')
  const { nodes, edges, strings } = snap
  const n = nodes.length / NF
  const first = new Int32Array(n + 1)
  for (let i = 0, e = 0; i < n; i++) {
    first[i] = e
    e += nodes[i * NF + iEdges!]!
  }
  first[n] = edges.length / EF
  // postorder from the root (node 0), strong edges only
  const post = new Int32Array(n).fill(-1)
  const order: number[] = []
  const seen = new Uint8Array(n)
  const stack = [0]
  const cursor = [first[0]!]
  seen[0] = 1
  while (stack.length > 0) {
    const v = stack.at(-1)!
    let e = cursor.at(-1)!
    let descended = false
    while (e < first[v + 1]!) {
      const w = edges[e * EF + eTo!]! / NF
      const strong = edges[e * EF + eType!] !== weak
      e++
      if (!strong || seen[w]) continue
      seen[w] = 1
      cursor[cursor.length - 1] = e
      stack.push(w)
      cursor.push(first[w]!)
      descended = true
      break
    }
    if (!descended) {
      stack.pop()
      cursor.pop()
      post[v] = order.length
      order.push(v)
    }
  }
  const predStart = new Int32Array(n + 1)
  const forEachChild = (v: number, f: (w: number) => void) => {
    for (let e = first[v]!; e < first[v + 1]!; e++)
      if (edges[e * EF + eType!] !== weak) f(edges[e * EF + eTo!]! / NF)
  }
  for (const v of order) forEachChild(v, (w) => predStart[w + 1]!++)
  for (let i = 0; i < n; i++) predStart[i + 1]! += predStart[i]!
  const preds = new Int32Array(predStart[n]!)
  const fill = predStart.slice()
  for (const v of order) forEachChild(v, (w) => (preds[fill[w]!++] = v))
  const idom = new Int32Array(n).fill(-1)
  idom[0] = 0
  const intersect = (a: number, b: number) => {
    while (a !== b) {
      while (post[a]! < post[b]!) a = idom[a]!
      while (post[b]! < post[a]!) b = idom[b]!
    }
    return a
  }
  for (let changed = true; changed; ) {
    changed = false
    for (let k = order.length - 2; k >= 0; k--) {
      const v = order[k]!
      let d = -1
      for (let p = predStart[v]!; p < predStart[v + 1]!; p++) {
        const u = preds[p]!
        if (idom[u] !== -1) d = d === -1 ? u : intersect(u, d)
      }
      if (d !== -1 && idom[v] !== d) {
        idom[v] = d
        changed = true
      }
    }
  }
  // root first: an owner starts its own group, everything else joins its dominator's
  const owner: Array<string | undefined> = new Array(n)
  const sums = new Map<string, number>()
  for (let k = order.length - 1; k >= 0; k--) {
    const v = order[k]!
    const name = strings[nodes[v * NF + iName!]!]!
    const own = nodes[v * NF + iType!] === objectType && OWNERS.has(name) ? name : undefined
    owner[v] = own ?? (v === 0 ? 'shared' : owner[idom[v]!])
    const group = owner[v] ?? 'shared'
    sums.set(group, (sums.get(group) ?? 0) + nodes[v * NF + iSize!]!)
  }
  return sums
}

function report(thread: string, a: Map<string, number>, b: Map<string, number>): void {
  const rows = [...new Set([...a.keys(), ...b.keys()])]
    .map((k) => ({ k, size: ((b.get(k) ?? 0) - (a.get(k) ?? 0)) / count }))
    .filter((r) => Math.abs(r.size) >= 1)
    .sort((x, y) => y.size - x.size)
  const total = rows.reduce((s, r) => s + r.size, 0)
  process.stdout.write(
    `\n${thread}: ${total.toFixed(0)} B per connection (V8 heap, plus the native TCP wrap)\n`,
  )
  for (const r of rows)
    process.stdout.write(`  ${r.size.toFixed(0).padStart(6)} B  ${OWNERS.get(r.k) ?? r.k}\n`)
}

const { before, after } = await idleHeaps(count, owners, ['4', String(keepalive)])
report('main thread', before.main, after.main)
report('worker thread', before.worker, after.worker)
