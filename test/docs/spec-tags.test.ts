// Spec tags name their specification: `[3.1.1 MQTT-x.y.z-n]` or `[5.0 MQTT-x.y.z-n]`. The two
// specifications number differently (MQTT-3.1.2-24 is keepalive in 3.1.1, Maximum Packet Size in
// 5.0), so a bare `[MQTT-…]` tag is ambiguous.
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { test } from 'node:test'
import { fileURLToPath } from 'node:url'

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..')

test('every spec tag in code, tests and docs names its specification', () => {
  const files = execFileSync('git', ['ls-files', 'src', 'test', 'docs', 'examples', 'bench', 'README.md'], {
    cwd: root,
    encoding: 'utf8',
  })
    .split('\n')
    .filter((f) => /\.(ts|js|md)$/.test(f))
  const bare = new RegExp(`\\[${'MQTT'}-\\d+(\\.\\d+)*-\\d+\\]`, 'g')
  const found: string[] = []
  for (const file of files) {
    const lines = readFileSync(join(root, file), 'utf8').split('\n')
    lines.forEach((line, i) => {
      for (const m of line.matchAll(bare)) found.push(`${file}:${i + 1} ${m[0]}`)
    })
  }
  assert.deepEqual(found, [], 'write [3.1.1 MQTT-…] or [5.0 MQTT-…]')
})
