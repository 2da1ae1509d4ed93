import assert from 'node:assert/strict'
import { test } from 'node:test'
import { FastCounter } from '../../src/metrics/fast-metrics.ts'
import { knownDropReasons, packetTypes, qosLevels } from '../../src/metrics/names.ts'
import { currentWorkerMetrics, WorkerMetrics } from '../../src/metrics/worker-metrics.ts'
import { parseExposition, sampleValue, seriesOf } from '../helpers/prom-text.ts'

// Every child is created through FastMetric.prototype.child: counting its calls shows
// whether a per-packet method looked a child up by labels or used one bound earlier.
function spyOnChildLookups(t: { after(fn: () => void): void }): { calls: number } {
  const base = Object.getPrototypeOf(FastCounter.prototype) as { child: (...v: string[]) => unknown }
  const original = base.child
  const spy = { calls: 0 }
  base.child = function (this: unknown, ...values: string[]) {
    spy.calls++
    return original.apply(this, values)
  }
  t.after(() => {
    base.child = original
  })
  return spy
}

test('per-packet methods hit children bound at construction: no label lookup', (t) => {
  const m = new WorkerMetrics({ workerId: 7 })
  const spy = spyOnChildLookups(t)
  for (let round = 0; round < 3; round++) {
    for (const type of packetTypes) {
      m.packetReceived(type)
      m.packetSent(type)
    }
    for (const qos of qosLevels) {
      m.messageReceived(qos)
      m.messageSent(qos)
    }
    for (const reason of knownDropReasons) m.messageDropped(reason)
    m.bytesReceived(10)
    m.bytesSent(10)
    m.observeHandoff(0.001)
  }
  assert.equal(spy.calls, 0)

  // Anything else is bound once, then cached.
  m.packetReceived('not-a-packet')
  m.messageDropped('custom')
  m.observeHook('onPublish', 'acl', 0.001)
  m.connectionOpened('tcp', 'tcp')
  m.connectionRejected('tcp', 'auth_refused')
  const afterFirst = spy.calls
  assert.ok(afterFirst > 0)
  for (let i = 0; i < 100; i++) {
    m.packetReceived('not-a-packet')
    m.messageDropped('custom')
    m.observeHook('onPublish', 'acl', 0.001)
    m.connectionOpened('tcp', 'tcp')
    m.connectionClosed('tcp', 'tcp')
    m.connectionRejected('tcp', 'auth_refused')
    m.connectionRejected('tcp', 'connect_timeout')
  }
  assert.equal(spy.calls, afterFirst)
})

test('the registry reports exact values, every pre-bound series at 0 first', async () => {
  const m = new WorkerMetrics({ workerId: 3 })
  const empty = parseExposition(await m.registry.metrics())
  for (const type of packetTypes)
    assert.equal(sampleValue(empty, 'mqttd_packets_received_total', { type }), 0)
  for (const qos of qosLevels)
    assert.equal(sampleValue(empty, 'mqttd_messages_sent_total', { qos: String(qos) }), 0)
  for (const reason of knownDropReasons)
    assert.equal(sampleValue(empty, 'mqttd_messages_dropped_total', { reason }), 0)

  m.connectionOpened('a', 'tcp')
  m.connectionOpened('a', 'tcp')
  m.connectionOpened('b', 'wss')
  m.connectionClosed('a', 'tcp')
  m.bytesReceived(5)
  m.bytesReceived(-3) // ignored: a counter never goes down
  m.bytesReceived(Number.NaN)
  m.observeHook('onConnect', 'auth', 0.02)
  m.observeHook('onConnect', 'auth', 3)
  m.hookError('onConnect', 'auth')
  const e = parseExposition(await m.registry.metrics())
  assert.equal(sampleValue(e, 'mqttd_connections', { listener: 'a', transport: 'tcp' }), 1)
  assert.equal(sampleValue(e, 'mqttd_connections', { listener: 'b', transport: 'wss' }), 1)
  assert.equal(sampleValue(e, 'mqttd_worker_connections', { worker: '3' }), 2)
  assert.equal(sampleValue(e, 'mqttd_bytes_received_total'), 5)
  const hook = { hook: 'onConnect', module: 'auth' }
  assert.equal(sampleValue(e, 'mqttd_hook_duration_seconds_bucket', { ...hook, le: '0.01' }), 0)
  assert.equal(sampleValue(e, 'mqttd_hook_duration_seconds_bucket', { ...hook, le: '0.05' }), 1)
  assert.equal(sampleValue(e, 'mqttd_hook_duration_seconds_bucket', { ...hook, le: '5' }), 2)
  assert.equal(sampleValue(e, 'mqttd_hook_duration_seconds_bucket', { ...hook, le: '+Inf' }), 2)
  assert.equal(sampleValue(e, 'mqttd_hook_duration_seconds_count', hook), 2)
  assert.equal(sampleValue(e, 'mqttd_hook_errors_total', hook), 1)
  assert.equal(seriesOf(e, 'mqttd_worker_event_loop_utilization_ratio', { worker: '3' }).length, 1)
  // No process metrics in a worker: they would be counted once per thread.
  assert.equal(
    e.samples.some((s) => s.name.startsWith('mqttd_process_') || s.name.startsWith('mqttd_nodejs_')),
    false,
  )
})

test('no client id or topic can become a label: the label names are fixed', async () => {
  const m = new WorkerMetrics({ workerId: 1 })
  m.connectionOpened('l', 'tcp')
  m.observeHook('onPublish', 'x', 0.1)
  m.hookError('onPublish', 'x')
  m.connectionRejected('l', 'protocol_error')
  const allowed = new Set([
    'listener',
    'transport',
    'reason',
    'type',
    'qos',
    'hook',
    'module',
    'worker',
    'le',
  ])
  for (const s of parseExposition(await m.registry.metrics()).samples) {
    for (const label of Object.keys(s.labels)) assert.ok(allowed.has(label), `${s.name} has label ${label}`)
  }
})

test('currentWorkerMetrics returns the instance built in this thread', () => {
  const m = new WorkerMetrics({ workerId: 9 })
  assert.equal(currentWorkerMetrics(), m)
})

test('load() reports open connections and a utilization ratio', () => {
  const m = new WorkerMetrics({ workerId: 2 })
  m.connectionOpened('l', 'tcp')
  const load = m.load()
  assert.equal(load.connections, 1)
  assert.ok(load.eventLoopUtilization >= 0 && load.eventLoopUtilization <= 1)
})

test('tracked byte sources are counted live at each scrape, exactly once, and finally at untrack', async () => {
  const m = new WorkerMetrics({ workerId: 4 })
  const a = { bytesReceived: 0, bytesSent: 0 }
  const b = { bytesReceived: 0, bytesSent: 0 }
  m.trackBytes(a)
  m.trackBytes(b)
  const read = async () => {
    const e = parseExposition(await m.registry.metrics())
    return [sampleValue(e, 'mqttd_bytes_received_total'), sampleValue(e, 'mqttd_bytes_sent_total')]
  }
  a.bytesReceived = 100
  a.bytesSent = 10
  b.bytesReceived = 5
  assert.deepEqual(await read(), [105, 10])
  assert.deepEqual(await read(), [105, 10], 'a second scrape adds nothing new')
  a.bytesReceived = 150
  m.untrackBytes(a)
  a.bytesReceived = 999 // after untrack: not counted
  m.untrackBytes(a) // twice: no effect
  b.bytesSent = 7
  m.bytesReceived(1) // direct counting still adds
  assert.deepEqual(await read(), [156, 17])
})
