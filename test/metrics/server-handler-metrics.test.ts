/**
 * A handler module's metrics and the hook metrics, end to end: the real
 * server with 2 workers, mqtt.js traffic, the aggregated scrape.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import mqtt from 'mqtt'
import { MetricsAggregator } from '../../src/metrics/metrics-aggregator.ts'
import { parseExposition, sampleValue, seriesOf, sumOf } from '../helpers/prom-text.ts'
import { startTestServer } from '../helpers/server.ts'

test('e2e: handler-registered metrics and hook metrics sum across workers', async (t) => {
  const server = await startTestServer(t, {
    workers: 2,
    handlers: ['./metrics/fixtures/counting-handler.ts'],
  })
  const aggregator = new MetricsAggregator(server.metrics, server.control, () => server.workerThreadIds())
  const clients = await Promise.all(
    [0, 1, 2, 3].map((i) =>
      mqtt.connectAsync(server.url('tcp'), { clientId: `h-${i}`, protocolVersion: 5, reconnectPeriod: 0 }),
    ),
  )
  t.after(() => Promise.all(clients.map((c) => c.endAsync(true))))
  for (const c of clients) {
    for (let k = 0; k < 4; k++) await c.publishAsync('ok', 'x', { qos: 1 })
    await c.publishAsync('ok', 'y', { qos: 2 })
  }
  const boom = await mqtt.connectAsync(server.url('tcp'), {
    clientId: 'boom',
    protocolVersion: 5,
    reconnectPeriod: 0,
  })
  t.after(() => boom.endAsync(true))
  const closed = new Promise<void>((resolve) => boom.once('close', () => resolve()))
  boom.publish('boom', 'z', { qos: 0 })
  await closed // a failing hook closes the connection

  const e = parseExposition((await aggregator.scrape()).body)
  assert.equal(sampleValue(e, 'test_counting_publishes_total', { qos: '1' }), 16)
  assert.equal(sampleValue(e, 'test_counting_publishes_total', { qos: '2' }), 4)
  assert.equal(sampleValue(e, 'test_counting_workers'), 2, 'one per worker, summed')
  const onPublish = seriesOf(e, 'mqttd_hook_duration_seconds_count', { hook: 'onPublish' })
  assert.deepEqual(
    onPublish.map((s) => s.labels.module),
    ['counting'],
  )
  assert.equal(onPublish[0]!.value, 20, 'failed calls are counted as errors, not durations')
  assert.equal(sampleValue(e, 'mqttd_hook_errors_total', { hook: 'onPublish', module: 'counting' }), 1)
  assert.equal(
    sampleValue(e, 'mqttd_hook_duration_seconds_bucket', {
      hook: 'onPublish',
      module: 'counting',
      le: '+Inf',
    }),
    20,
  )
  assert.equal(sumOf(e, 'mqttd_messages_received_total'), 21)
})
