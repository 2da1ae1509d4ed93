// Within every folder of src/ (src/ itself included), what the folder holds (its files and its
// sub-folders, each sub-folder taken whole) imports each other without a cycle; type-only imports
// and JSDoc `import('…')` types count too. So each concern can be read, tested and replaced from
// the bottom up, at every level: between the top folders, between a folder's files and its
// sub-folders (admin/ui/app.js imports the views, which named a type of app.js), and between
// the files of one folder (broker/cluster.ts and wire.ts imported each other).
import assert from 'node:assert/strict'
import { readdirSync, readFileSync } from 'node:fs'
import { dirname, join, relative, resolve, sep } from 'node:path'
import { test } from 'node:test'

const src = resolve(import.meta.dirname, '../src')

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name)
    if (e.isDirectory()) return sourceFiles(path)
    return /\.(ts|js)$/.test(e.name) && !e.name.endsWith('.d.ts') ? [path] : []
  })
}

interface Edge {
  from: string
  to: string
  /** `file -> specifier`, for the message. */
  via: string
}

/** Every relative import between two files of src/, by path relative to src/. */
function fileEdges(): Edge[] {
  const edges: Edge[] = []
  for (const file of sourceFiles(src)) {
    const text = readFileSync(file, 'utf8')
    const specifiers = [
      ...text.matchAll(/(?:import|export)\s[^'"]*?from\s+['"](\.[^'"]+)['"]/g),
      ...text.matchAll(/import\(\s*['"](\.[^'"]+)['"]\s*\)/g),
    ].map((m) => m[1]!)
    for (const spec of specifiers) {
      const target = resolve(dirname(file), spec)
      if (!target.startsWith(src + sep)) continue
      edges.push({
        from: relative(src, file),
        to: relative(src, target),
        via: `${relative(src, file)} -> ${spec}`,
      })
    }
  }
  return edges
}

/** What `path` is inside `folder` ('' for src/ itself): the file, or the sub-folder it lies in. */
function child(folder: string, path: string): string | undefined {
  if (folder !== '' && !path.startsWith(`${folder}/`)) return undefined
  const rest = folder === '' ? path : path.slice(folder.length + 1)
  return rest.includes('/') ? rest.slice(0, rest.indexOf('/')) : rest
}

/** The cycles among the children of `folder`, each as `a => (a's importing file) b => …`. */
function cyclesIn(folder: string, edges: Edge[]): string[] {
  const graph = new Map<string, Map<string, string>>()
  for (const e of edges) {
    const from = child(folder, e.from)
    const to = child(folder, e.to)
    if (from === undefined || to === undefined || from === to) continue
    const out = graph.get(from) ?? new Map<string, string>()
    if (!out.has(to)) out.set(to, e.via)
    graph.set(from, out)
  }
  const cycles: string[] = []
  const visiting: string[] = []
  const done = new Set<string>()
  const visit = (n: string) => {
    if (done.has(n)) return
    const at = visiting.indexOf(n)
    if (at >= 0) {
      const loop = [...visiting.slice(at), n]
      const steps = loop.map((f, i) => (i === 0 ? f : `${graph.get(loop[i - 1]!)!.get(f)}`))
      cycles.push(`${folder || 'src'}: ${steps.join(' => ')}`)
      return
    }
    visiting.push(n)
    for (const next of graph.get(n)?.keys() ?? []) visit(next)
    visiting.pop()
    done.add(n)
  }
  for (const n of graph.keys()) visit(n)
  return cycles
}

function folders(): string[] {
  const all = new Set([''])
  for (const file of sourceFiles(src)) {
    for (let d = dirname(relative(src, file)); d !== '.'; d = dirname(d)) all.add(d)
  }
  return [...all].sort()
}

test('no import cycle between the folders of src/', () => {
  const edges = fileEdges()
  assert.ok(edges.length > 50, 'the imports were read')
  assert.deepEqual(cyclesIn('', edges), [])
})

test('no import cycle inside any folder of src/: between its files and sub-folders', () => {
  const edges = fileEdges()
  const all = folders()
  assert.ok(all.includes('broker') && all.includes('admin/ui'), 'the folders were read')
  assert.deepEqual(
    all.flatMap((f) => cyclesIn(f, edges)),
    [],
  )
})

test('the check finds a cycle where there is one', () => {
  const edges: Edge[] = [
    { from: 'a/x.ts', to: 'a/sub/y.ts', via: 'a/x.ts -> ./sub/y.ts' },
    { from: 'a/sub/y.ts', to: 'a/x.ts', via: 'a/sub/y.ts -> ../x.ts' },
    { from: 'b/p.ts', to: 'b/q.ts', via: 'b/p.ts -> ./q.ts' },
  ]
  assert.deepEqual(cyclesIn('', edges), [])
  assert.deepEqual(cyclesIn('a', edges), ['a: x.ts => a/x.ts -> ./sub/y.ts => a/sub/y.ts -> ../x.ts'])
  assert.deepEqual(cyclesIn('b', edges), [])
})
