import assert from 'node:assert/strict'
import { existsSync, readFileSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { test } from 'node:test'
import { fileURLToPath } from 'node:url'

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..')
// Paths relative to the repository root.
const pages = [
  'README.md',
  'docs/getting-started.md',
  'docs/handlers.md',
  'docs/operations.md',
  'docs/architecture.md',
  'docs/migrating-from-mqtt-connection.md',
  'docs/configuration.md',
  'docs/errors.md',
  'load-tests/README.md',
  'bench/README.md',
]

/** GitHub's heading anchors: lower case, punctuation dropped, spaces to dashes. */
function anchors(markdown: string): Set<string> {
  const out = new Set<string>()
  for (const [, heading] of markdown.matchAll(/^#{1,6} (.+)$/gm)) {
    out.add(
      heading!
        .toLowerCase()
        .replace(/[^\p{L}\p{N} _-]/gu, '')
        .replace(/ /g, '-'),
    )
  }
  return out
}

for (const page of pages) {
  test(`${page}: relative links point at files (and headings) that exist`, () => {
    const text = readFileSync(join(root, page), 'utf8').replace(/^```[\s\S]*?^```$/gm, '')
    let checked = 0
    for (const [, target] of text.matchAll(/\]\(([^)\s]+)\)/g)) {
      if (/^[a-z]+:/.test(target!)) continue
      const [path, hash] = target!.split('#')
      const file = path === '' ? join(root, page) : resolve(root, dirname(page), path!)
      assert.ok(existsSync(file), `${page} links to ${target}: no such file`)
      if (hash !== undefined) {
        assert.ok(
          anchors(readFileSync(file, 'utf8')).has(hash),
          `${page} links to ${target}: no such heading`,
        )
      }
      checked++
    }
    if (page.startsWith('docs/') && page !== 'docs/errors.md')
      assert.ok(checked > 0, 'the page links somewhere')
  })
}
