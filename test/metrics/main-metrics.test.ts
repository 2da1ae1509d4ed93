import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { test } from 'node:test'
import { MainMetrics } from '../../src/metrics/main-metrics.ts'
import { parseExposition, sampleValue, seriesOf } from '../helpers/prom-text.ts'

test('main metrics: listeners pre-bound at 0, exact counts, build info, process metrics with the mqttd_ prefix', async () => {
  const m = new MainMetrics({ listeners: ['tcp', 'ws'], version: '9.9.9' })
  const fresh = parseExposition(await m.registry.metrics())
  assert.equal(sampleValue(fresh, 'mqttd_connections_accepted_total', { listener: 'ws' }), 0)
  for (const reason of ['max_connections', 'rate_limited', 'queue_full']) {
    assert.equal(sampleValue(fresh, 'mqttd_connections_rejected_total', { listener: 'tcp', reason }), 0)
  }
  m.accepted('tcp')
  m.accepted('tcp')
  m.accepted('other')
  m.rejected('tcp', 'queue_full')
  m.rejected('tcp', 'something_new')
  m.workerRestarted()
  m.scrapeMissed(2)
  const e = parseExposition(await m.registry.metrics())
  assert.equal(sampleValue(e, 'mqttd_connections_accepted_total', { listener: 'tcp' }), 2)
  assert.equal(sampleValue(e, 'mqttd_connections_accepted_total', { listener: 'other' }), 1)
  assert.equal(
    sampleValue(e, 'mqttd_connections_rejected_total', { listener: 'tcp', reason: 'queue_full' }),
    1,
  )
  assert.equal(
    sampleValue(e, 'mqttd_connections_rejected_total', { listener: 'tcp', reason: 'something_new' }),
    1,
  )
  assert.equal(sampleValue(e, 'mqttd_worker_restarts_total'), 1)
  assert.equal(sampleValue(e, 'mqttd_metrics_scrape_misses_total'), 2)
  assert.equal(sampleValue(e, 'mqttd_build_info', { version: '9.9.9', node: process.versions.node }), 1)
  assert.equal(seriesOf(e, 'mqttd_process_cpu_seconds_total').length, 1)
  assert.ok(
    e.samples.every((s) => s.name.startsWith('mqttd_')),
    'one prefix for every series',
  )

  const bare = parseExposition(await new MainMetrics({ defaultMetrics: false }).registry.metrics())
  assert.equal(
    bare.samples.some((s) => s.name.startsWith('mqttd_process_')),
    false,
  )
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
    version: string
  }
  assert.equal(seriesOf(bare, 'mqttd_build_info')[0]!.labels.version, pkg.version)
})
