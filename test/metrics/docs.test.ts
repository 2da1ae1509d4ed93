import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { test } from 'node:test'
import { MainMetrics } from '../../src/metrics/main-metrics.ts'
import { metricSpecs } from '../../src/metrics/names.ts'

const doc = readFileSync(new URL('../../docs/metrics.md', import.meta.url), 'utf8')

test('docs/metrics.md has a row for every mqttd metric with its type and labels', () => {
  for (const spec of Object.values(metricSpecs)) {
    // Column padding is free (a Markdown formatter may align the table).
    const cells = doc
      .split('\n')
      .map((line) => line.split('|').map((c) => c.trim()))
      .find((row) => row[0] === '' && row[1] === `\`${spec.name}\``)
    assert.ok(cells, `docs/metrics.md documents ${spec.name}`)
    assert.equal(cells[2], spec.type, `${spec.name} type`)
    const labels = spec.labelNames.length === 0 ? '—' : spec.labelNames.map((l) => `\`${l}\``).join(', ')
    assert.equal(cells[3], labels, `${spec.name} labels`)
  }
})

test('every process metric docs/metrics.md names exists', async () => {
  const names = (await new MainMetrics().registry.getMetricsAsJSON()).map((m) => m.name)
  const mentioned = doc.match(/`mqttd_(?:process|nodejs)_[a-z_]+\*?`/g) ?? []
  assert.ok(mentioned.length > 10)
  for (const quoted of mentioned) {
    const name = quoted.slice(1, -1)
    const found = name.endsWith('*')
      ? names.some((n) => n.startsWith(name.slice(0, -1)))
      : names.includes(name)
    assert.ok(found, `${name} is a default metric`)
  }
})
