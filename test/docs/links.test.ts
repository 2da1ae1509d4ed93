import assert from 'node:assert/strict'
import { existsSync, readFileSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { test } from 'node:test'
import { fileURLToPath } from 'node:url'

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..')
const pages = [
  'getting-started.md',
  'handlers.md',
  'operations.md',
  'architecture.md',
  'migrating-from-mqtt-connection.md',
  'configuration.md',
  'errors.md',
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
  test(`docs/${page}: relative links point at files (and headings) that exist`, () => {
    const text = readFileSync(join(root, 'docs', page), 'utf8').replace(/^```[\s\S]*?^```$/gm, '')
    let checked = 0
    for (const [, target] of text.matchAll(/\]\(([^)\s]+)\)/g)) {
      if (/^[a-z]+:/.test(target!)) continue
      const [path, hash] = target!.split('#')
      const file = path === '' ? join(root, 'docs', page) : resolve(root, 'docs', path!)
      assert.ok(existsSync(file), `${page} links to ${target}: no such file`)
      if (hash !== undefined) {
        assert.ok(
          anchors(readFileSync(file, 'utf8')).has(hash),
          `${page} links to ${target}: no such heading`,
        )
      }
      checked++
    }
    if (page !== 'errors.md') assert.ok(checked > 0, 'the page links somewhere')
  })
}
