// The folders of src/ import each other without a cycle (type-only imports count too): each
// concern can be read, tested and replaced from the bottom up. Files at the top of src/ count as
// their own node.
import assert from 'node:assert/strict'
import { readdirSync, readFileSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import { test } from 'node:test'

const src = resolve(import.meta.dirname, '../src')

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name)
    if (e.isDirectory()) return sourceFiles(path)
    return /\.(ts|js)$/.test(e.name) && !e.name.endsWith('.d.ts') ? [path] : []
  })
}

function node(file: string): string {
  const rel = relative(src, file)
  return rel.includes('/') ? rel.slice(0, rel.indexOf('/')) : rel
}

/** Folder → folders it imports, with one importing file per edge for the message. */
function folderGraph(): Map<string, Map<string, string>> {
  const graph = new Map<string, Map<string, string>>()
  for (const file of sourceFiles(src)) {
    const text = readFileSync(file, 'utf8')
    const specifiers = [
      ...text.matchAll(/(?:import|export)\s[^'"]*?from\s+['"](\.[^'"]+)['"]/g),
      ...text.matchAll(/import\(\s*['"](\.[^'"]+)['"]\s*\)/g),
    ].map((m) => m[1]!)
    for (const spec of specifiers) {
      const target = resolve(dirname(file), spec)
      if (!target.startsWith(src)) continue
      const from = node(file)
      const to = node(target)
      if (from === to) continue
      const edges = graph.get(from) ?? new Map<string, string>()
      if (!edges.has(to)) edges.set(to, `${relative(src, file)} -> ${spec}`)
      graph.set(from, edges)
    }
  }
  return graph
}

test('no import cycle between the folders of src/', () => {
  const graph = folderGraph()
  assert.ok(graph.size > 5, 'the graph was read')
  const cycles: string[] = []
  const visiting: string[] = []
  const done = new Set<string>()
  const visit = (n: string) => {
    if (done.has(n)) return
    const at = visiting.indexOf(n)
    if (at >= 0) {
      const loop = [...visiting.slice(at), n]
      cycles.push(loop.map((f, i) => (i === 0 ? f : `${graph.get(loop[i - 1]!)!.get(f)}`)).join(' => '))
      return
    }
    visiting.push(n)
    for (const next of graph.get(n)?.keys() ?? []) visit(next)
    visiting.pop()
    done.add(n)
  }
  for (const n of graph.keys()) visit(n)
  assert.deepEqual(cycles, [])
})
