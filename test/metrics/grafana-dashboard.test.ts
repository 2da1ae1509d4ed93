import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { test } from 'node:test'
import { refusalCounter, registerBrokerGauges } from '../../src/broker/metrics.ts'
import { MainMetrics } from '../../src/metrics/main-metrics.ts'
import { WorkerMetrics } from '../../src/metrics/worker-metrics.ts'
import { parseExposition } from '../helpers/prom-text.ts'

interface Panel {
  id: number
  type: string
  title: string
  gridPos: { x: number; y: number; w: number; h: number }
  targets?: { expr: string }[]
}

const dashboard = JSON.parse(
  readFileSync(new URL('../../deploy/grafana/mqttd.json', import.meta.url), 'utf8'),
) as {
  uid: string
  panels: Panel[]
  annotations: { list: { expr: string }[] }
}

test('every series the Grafana dashboard queries is one mqttd exposes', async () => {
  // The sample names a running server exposes: main registry plus one worker's.
  const worker = new WorkerMetrics({ workerId: 1 })
  worker.observeHook('onPublish', 'm', 0.001)
  worker.hookError('onPublish', 'm')
  worker.connectionOpened('l', 'tcp')
  // the broker's own metrics, on the worker registry as inside the server
  refusalCounter(worker.registry)
  registerBrokerGauges(worker.registry, {
    sessions: () => ({ online: 1, offline: 0, queued: 0, inflight: 0 }),
    subscriptions: () => 1,
    retained: () => ({ messages: 1, bytes: 1 }),
  })
  const exposed = new Set(
    [
      ...parseExposition(await new MainMetrics({ listeners: ['l'] }).registry.metrics()).samples,
      ...parseExposition(await worker.registry.metrics()).samples,
    ].map((s) => s.name),
  )
  const exprs = [
    ...dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => t.expr)),
    ...dashboard.annotations.list.map((a) => a.expr),
  ]
  assert.ok(exprs.length >= 20)
  const used = new Set(exprs.flatMap((e) => e.match(/\bmqttd_[a-z0-9_]+/g) ?? []))
  for (const name of used)
    assert.ok(exposed.has(name), `the dashboard queries ${name}, which mqttd does not expose`)
  for (const required of [
    'mqttd_worker_connections',
    'mqttd_messages_received_total',
    'mqttd_messages_sent_total',
    'mqttd_hook_duration_seconds_bucket',
    'mqttd_messages_dropped_total',
    'mqttd_worker_event_loop_utilization_ratio',
    'mqttd_broker_sessions',
    'mqttd_broker_subscriptions',
    'mqttd_broker_queued_messages',
    'mqttd_broker_retained_messages',
    'mqttd_broker_retained_bytes',
    'mqttd_broker_refusals_total',
  ]) {
    assert.ok(used.has(required), `the dashboard shows ${required}`)
  }
})

test('dashboard panels have unique ids and do not overlap', () => {
  const ids = dashboard.panels.map((p) => p.id)
  assert.equal(new Set(ids).size, ids.length)
  const cells = new Set<string>()
  for (const p of dashboard.panels) {
    assert.ok(p.gridPos.x + p.gridPos.w <= 24, `${p.title} fits the 24-column grid`)
    for (let x = p.gridPos.x; x < p.gridPos.x + p.gridPos.w; x++) {
      for (let y = p.gridPos.y; y < p.gridPos.y + p.gridPos.h; y++) {
        assert.ok(!cells.has(`${x},${y}`), `${p.title} overlaps another panel at ${x},${y}`)
        cells.add(`${x},${y}`)
      }
    }
    if (p.type !== 'row') assert.ok((p.targets ?? []).length > 0, `${p.title} has a query`)
  }
})
