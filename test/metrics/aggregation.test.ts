import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { test } from 'node:test'
import { Worker } from 'node:worker_threads'
import { ControlClient } from '../../src/control/control-channel.ts'
import { MainMetrics } from '../../src/metrics/main-metrics.ts'
import { MetricsAggregator } from '../../src/metrics/metrics-aggregator.ts'
import { type Exposition, parseExposition, sampleValue, seriesOf, sumOf } from '../helpers/prom-text.ts'

const workerFile = new URL('./fixtures/metrics-worker.ts', import.meta.url)

interface Harness {
  instanceId: string
  workers: Worker[]
  main: MainMetrics
  control: ControlClient
  aggregator: MetricsAggregator
  spawn(): Promise<Worker>
  send(worker: Worker, msg: object, until: string): Promise<void>
  scrape(accept?: string): Promise<Exposition>
}

async function harness(
  t: { after(fn: () => Promise<void>): void },
  count: number,
  timeoutMs = 2000,
): Promise<Harness> {
  const instanceId = randomUUID()
  const workers: Worker[] = []
  const main = new MainMetrics()
  const control = new ControlClient(instanceId)
  const aggregator = new MetricsAggregator(main, control, () => workers.length, { timeoutMs })
  const send = (worker: Worker, msg: object, until: string): Promise<void> =>
    new Promise((resolve) => {
      const onMessage = (m: unknown): void => {
        if (m !== until) return
        worker.off('message', onMessage)
        resolve()
      }
      worker.on('message', onMessage)
      worker.postMessage(msg)
    })
  const spawn = async (): Promise<Worker> => {
    const worker = new Worker(workerFile, { workerData: { instanceId } })
    await new Promise((resolve, reject) => {
      worker.once('message', resolve)
      worker.once('error', reject)
    })
    workers.push(worker)
    return worker
  }
  t.after(async () => {
    control.close()
    await Promise.all(workers.map((w) => w.terminate()))
  })
  for (let i = 0; i < count; i++) await spawn()
  return {
    instanceId,
    workers,
    main,
    control,
    aggregator,
    spawn,
    send,
    async scrape(accept?: string) {
      const { body } = await aggregator.scrape(accept)
      return parseExposition(body)
    },
  }
}

test('counters from real worker threads sum exactly; gauges merge by their own aggregator', async (t) => {
  const h = await harness(t, 3)
  // Worker i counts traffic scaled by i + 1.
  await Promise.all(h.workers.map((w, i) => h.send(w, { op: 'traffic', n: i + 1 }, 'done')))
  h.main.accepted('tcp-main')
  h.main.rejected('tcp-main', 'max_connections')
  h.main.rejected('tcp-main', 'max_connections')
  const e = await h.scrape()

  const n = 1 + 2 + 3
  assert.equal(sampleValue(e, 'mqttd_packets_received_total', { type: 'publish' }), 10 * n)
  assert.equal(sampleValue(e, 'mqttd_packets_received_total', { type: 'connect' }), 3)
  assert.equal(
    sampleValue(e, 'mqttd_packets_received_total', { type: 'auth' }),
    0,
    'pre-bound series are exported at 0',
  )
  assert.equal(sampleValue(e, 'mqttd_packets_sent_total', { type: 'puback' }), 10 * n)
  assert.equal(sampleValue(e, 'mqttd_bytes_received_total'), 100 * n)
  assert.equal(sampleValue(e, 'mqttd_bytes_sent_total'), 40 * n)
  assert.equal(sampleValue(e, 'mqttd_messages_received_total', { qos: '1' }), 10 * n)
  assert.equal(sampleValue(e, 'mqttd_messages_sent_total', { qos: '2' }), 3)
  assert.equal(sampleValue(e, 'mqttd_messages_dropped_total', { reason: 'queue_full' }), 3)
  assert.equal(sampleValue(e, 'mqttd_messages_dropped_total', { reason: 'made_up_reason' }), 3)
  assert.equal(sampleValue(e, 'mqttd_hook_errors_total', { hook: 'onConnect', module: 'auth' }), 3)
  assert.equal(sampleValue(e, 'mqttd_connections_accepted_total', { listener: 'tcp-main' }), 1)

  // The same family from main (limits) and workers (auth) merges into one.
  assert.equal(e.families.get('mqttd_connections_rejected_total')?.type, 'counter')
  assert.equal(sampleValue(e, 'mqttd_connections_rejected_total', { reason: 'max_connections' }), 2)
  assert.equal(sampleValue(e, 'mqttd_connections_rejected_total', { reason: 'auth_refused' }), 3)

  // Histograms: buckets, sum and count add up across workers.
  const hook = { hook: 'onPublish', module: 'auth' }
  assert.equal(sampleValue(e, 'mqttd_hook_duration_seconds_count', hook), 3)
  assert.equal(sampleValue(e, 'mqttd_hook_duration_seconds_bucket', { ...hook, le: '0.001' }), 0)
  assert.equal(sampleValue(e, 'mqttd_hook_duration_seconds_bucket', { ...hook, le: '0.005' }), 3)
  assert.equal(sampleValue(e, 'mqttd_hook_duration_seconds_bucket', { ...hook, le: '+Inf' }), 3)
  assert.ok(Math.abs(sampleValue(e, 'mqttd_hook_duration_seconds_sum', hook) - 0.006) < 1e-12)
  assert.equal(sampleValue(e, 'mqttd_handoff_seconds_count'), 3)
  assert.equal(sampleValue(e, 'mqttd_handoff_seconds_bucket', { le: '0.00025' }), 0)
  assert.equal(sampleValue(e, 'mqttd_handoff_seconds_bucket', { le: '0.0005' }), 3)

  // A handler module's own metrics are aggregated like ours.
  assert.equal(sampleValue(e, 'test_handler_events_total', { kind: 'a' }), n)
  assert.equal(sampleValue(e, 'test_handler_latency_seconds_bucket', { le: '0.1' }), 0)
  assert.equal(sampleValue(e, 'test_handler_latency_seconds_bucket', { le: '1' }), 3)
  // A summary's quantiles cannot be added up across workers: only _sum and _count remain.
  assert.deepEqual(
    seriesOf(e, 'test_handler_summary_seconds').map((s) => s.labels),
    [],
  )
  assert.equal(sampleValue(e, 'test_handler_summary_seconds_count'), 3)
  assert.equal(sampleValue(e, 'test_handler_summary_seconds_sum'), n)

  // Gauges: connections sum; per-worker gauges keep one series per worker.
  assert.equal(sampleValue(e, 'mqttd_connections', { listener: 'tcp-main', transport: 'tcp' }), n)
  assert.equal(sampleValue(e, 'mqttd_connections', { listener: 'ws-main', transport: 'ws' }), 0)
  const ids = h.workers.map((w) => String(w.threadId))
  for (const [i, id] of ids.entries()) {
    assert.equal(sampleValue(e, 'mqttd_worker_connections', { worker: id }), i + 1)
    const elu = sampleValue(e, 'mqttd_worker_event_loop_utilization_ratio', { worker: id })
    assert.ok(elu >= 0 && elu <= 1, `utilization ${elu} of worker ${id} is a ratio`)
  }
  assert.deepEqual(
    seriesOf(e, 'mqttd_worker_event_loop_utilization_ratio')
      .map((s) => s.labels.worker)
      .sort(),
    [...ids].sort(),
  )

  // Process metrics come from main only, once; the 'omit' aggregator of start time does not drop it.
  assert.equal(seriesOf(e, 'mqttd_process_cpu_user_seconds_total').length, 1)
  assert.equal(seriesOf(e, 'mqttd_process_start_time_seconds').length, 1)
  assert.equal(seriesOf(e, 'mqttd_build_info').length, 1)
  assert.equal(seriesOf(e, 'mqttd_build_info')[0]!.labels.node, process.versions.node)
  assert.equal(sampleValue(e, 'mqttd_metrics_scrape_misses_total'), 0)
})

test('a terminated worker keeps its counters in the sum; its gauges are dropped', async (t) => {
  const h = await harness(t, 2)
  await Promise.all(h.workers.map((w, i) => h.send(w, { op: 'traffic', n: i + 1 }, 'done')))
  const before = await h.scrape()
  assert.equal(sampleValue(before, 'mqttd_packets_received_total', { type: 'publish' }), 30)

  const dead = h.workers[1]!
  const deadId = dead.threadId
  await dead.terminate()
  h.workers.splice(1, 1)
  h.aggregator.workerExited(deadId)
  h.main.workerRestarted()

  const after = await h.scrape()
  for (const s of before.samples) {
    if (!/_total$|_bucket$|_sum$|_count$/.test(s.name) || s.name.startsWith('mqttd_process_')) continue
    if (s.name.startsWith('mqttd_nodejs_')) continue
    const now = sumOf(after, s.name, s.labels)
    assert.ok(now >= s.value, `${s.name}${JSON.stringify(s.labels)} went from ${s.value} to ${now}`)
  }
  assert.equal(sampleValue(after, 'mqttd_packets_received_total', { type: 'publish' }), 30)
  assert.equal(
    sampleValue(after, 'mqttd_hook_duration_seconds_count', { hook: 'onPublish', module: 'auth' }),
    2,
  )
  assert.equal(sampleValue(after, 'test_handler_events_total', { kind: 'a' }), 3)
  assert.equal(sampleValue(after, 'mqttd_worker_restarts_total'), 1)
  // Gauges: the dead worker's connections and utilization are gone.
  assert.equal(sampleValue(after, 'mqttd_connections', { listener: 'tcp-main', transport: 'tcp' }), 1)
  assert.equal(
    seriesOf(after, 'mqttd_worker_event_loop_utilization_ratio', { worker: String(deadId) }).length,
    0,
  )
  assert.equal(seriesOf(after, 'mqttd_worker_connections', { worker: String(deadId) }).length, 0)

  // The replacement adds on top of the retained total.
  const fresh = await h.spawn()
  await h.send(fresh, { op: 'traffic', n: 5 }, 'done')
  const later = await h.scrape()
  assert.equal(sampleValue(later, 'mqttd_packets_received_total', { type: 'publish' }), 80)
  assert.equal(sampleValue(later, 'mqttd_connections', { listener: 'tcp-main', transport: 'tcp' }), 6)

  // A second exit notice, or a late one, changes nothing.
  h.aggregator.workerExited(deadId)
  const again = await h.scrape()
  assert.equal(sampleValue(again, 'mqttd_packets_received_total', { type: 'publish' }), 80)
})

test('given thread ids, a worker missing from the live list is folded as dead without a notice', async (t) => {
  const instanceId = randomUUID()
  const workers = [
    new Worker(workerFile, { workerData: { instanceId } }),
    new Worker(workerFile, { workerData: { instanceId } }),
  ]
  const control = new ControlClient(instanceId)
  t.after(async () => {
    control.close()
    await Promise.all(workers.map((w) => w.terminate()))
  })
  await Promise.all(workers.map((w) => new Promise((resolve) => w.once('message', resolve))))
  let live = workers.map((w) => w.threadId)
  const aggregator = new MetricsAggregator(new MainMetrics({ defaultMetrics: false }), control, () => live, {
    timeoutMs: 2000,
  })
  for (const w of workers) {
    const done = new Promise((resolve) => w.once('message', resolve))
    w.postMessage({ op: 'traffic', n: 1 })
    await done
  }
  const first = parseExposition((await aggregator.scrape()).body)
  assert.equal(sampleValue(first, 'mqttd_bytes_received_total'), 200)
  await workers[0]!.terminate()
  live = [workers[1]!.threadId]
  const second = parseExposition((await aggregator.scrape()).body)
  assert.equal(sampleValue(second, 'mqttd_bytes_received_total'), 200)
  assert.equal(sumOf(second, 'mqttd_connections'), 1)
  assert.equal(sampleValue(second, 'mqttd_metrics_scrape_misses_total'), 0)
})

test('a stuck worker does not stall the scrape: its last snapshot is used and the miss is counted', async (t) => {
  const h = await harness(t, 2, 300)
  await Promise.all(h.workers.map((w) => h.send(w, { op: 'traffic', n: 1 }, 'done')))
  const before = await h.scrape()
  assert.equal(sampleValue(before, 'mqttd_packets_received_total', { type: 'publish' }), 20)

  const stuck = h.workers[0]!
  await h.send(stuck, { op: 'block', ms: 1500 }, 'blocking')
  let unblocked = false
  const whenUnblocked = new Promise<void>((resolve) =>
    stuck.on('message', (m) => {
      if (m === 'unblocked') {
        unblocked = true
        resolve()
      }
    }),
  )
  await h.send(h.workers[1]!, { op: 'traffic', n: 1 }, 'done')
  const during = await h.scrape()
  assert.equal(unblocked, false, 'the scrape finished while the worker was still blocked')
  assert.equal(sampleValue(during, 'mqttd_metrics_scrape_misses_total'), 1)
  // The stuck worker's last snapshot (10) plus the live worker's fresh count (20).
  assert.equal(sampleValue(during, 'mqttd_packets_received_total', { type: 'publish' }), 30)
  assert.equal(seriesOf(during, 'mqttd_worker_event_loop_utilization_ratio').length, 2)

  await whenUnblocked
  const afterwards = await h.scrape()
  assert.equal(sampleValue(afterwards, 'mqttd_metrics_scrape_misses_total'), 1)
  assert.equal(sampleValue(afterwards, 'mqttd_packets_received_total', { type: 'publish' }), 30)
})

test('OpenMetrics when the scraper asks for it: parses, counters named without _total', async (t) => {
  const h = await harness(t, 2)
  await Promise.all(h.workers.map((w) => h.send(w, { op: 'traffic', n: 2 }, 'done')))
  const accept =
    'application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1'
  const om = await h.aggregator.scrape(accept)
  assert.match(om.contentType, /^application\/openmetrics-text; version=1\.0\.0/)
  const e = parseExposition(om.body, 'openmetrics')
  assert.equal(e.families.get('mqttd_packets_received')?.type, 'counter')
  assert.equal(e.families.has('mqttd_packets_received_total'), false)
  assert.equal(sampleValue(e, 'mqttd_packets_received_total', { type: 'publish' }), 40)
  assert.equal(sampleValue(e, 'mqttd_hook_duration_seconds_count', { hook: 'onConnect', module: 'auth' }), 2)

  const text = await h.aggregator.scrape('text/plain;version=0.0.4')
  assert.match(text.contentType, /^text\/plain; version=0\.0\.4/)
  assert.equal(
    sampleValue(parseExposition(text.body), 'mqttd_packets_received_total', { type: 'publish' }),
    40,
  )
})
