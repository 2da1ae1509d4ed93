import assert from 'node:assert/strict'
import { test } from 'node:test'
import { negotiateFormat } from '../../src/metrics/content-type.ts'
import { foldCumulative, type MetricJSON, withoutMergedQuantiles } from '../../src/metrics/snapshot.ts'
import { parseExposition, sampleValue } from '../helpers/prom-text.ts'

test('Accept negotiation: OpenMetrics only when asked for at least as much as plain text', () => {
  assert.equal(negotiateFormat(undefined), 'prometheus')
  assert.equal(negotiateFormat(''), 'prometheus')
  assert.equal(negotiateFormat('*/*'), 'prometheus')
  assert.equal(negotiateFormat('text/plain;version=0.0.4'), 'prometheus')
  assert.equal(negotiateFormat('application/openmetrics-text'), 'openmetrics')
  // What Prometheus 2.x sends by default.
  assert.equal(
    negotiateFormat(
      'application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1',
    ),
    'openmetrics',
  )
  assert.equal(negotiateFormat('text/plain;q=1, application/openmetrics-text;q=0.5'), 'prometheus')
  assert.equal(negotiateFormat('application/openmetrics-text;q=0'), 'prometheus')
})

test('the test parser reads both formats and rejects what a scraper would reject', () => {
  const ok = parseExposition(
    [
      '# HELP a_total Things.',
      '# TYPE a_total counter',
      'a_total{x="1",y="q\\"uo\\\\te\\n"} 3',
      '',
      '# HELP h Latency.',
      '# TYPE h histogram',
      'h_bucket{le="0.5"} 1',
      'h_bucket{le="+Inf"} 2',
      'h_sum 1.5',
      'h_count 2',
      '# TYPE g gauge',
      'g NaN',
      '',
    ].join('\n'),
  )
  assert.equal(sampleValue(ok, 'a_total', { x: '1', y: 'q"uo\\te\n' }), 3)
  assert.equal(sampleValue(ok, 'h_bucket', { le: '+Inf' }), 2)
  assert.ok(Number.isNaN(sampleValue(ok, 'g')))

  const om = parseExposition('# HELP c C.\n# TYPE c counter\nc_total 1\n# EOF\n', 'openmetrics')
  assert.equal(sampleValue(om, 'c_total'), 1)

  assert.throws(() => parseExposition('# TYPE a counter\na{x="1} 2\n'), /unterminated/)
  assert.throws(() => parseExposition('# TYPE a counter\na 2 3 4\n'), /bad sample line/)
  assert.throws(() => parseExposition('# TYPE a counter\na two\n'), /bad sample value/)
  assert.throws(() => parseExposition('undeclared 1\n'), /undeclared family/)
  assert.throws(() => parseExposition('# TYPE a gauge\na{x="1"} 1\na{x="1"} 2\n'), /duplicate series/)
  assert.throws(() => parseExposition('# TYPE h histogram\nh 1\n'), /undeclared family/)
  assert.throws(() => parseExposition('# TYPE c counter\nc_total 1\n', 'openmetrics'), /# EOF/)
})

test('folding a snapshot keeps counters and histograms summed, drops gauges, changes no input', () => {
  const retained: MetricJSON[] = [
    {
      name: 'c_total',
      help: 'c',
      type: 'counter',
      aggregator: 'sum',
      values: [{ value: 2, labels: { a: 'x' } }],
    },
  ]
  const snapshot: MetricJSON[] = [
    {
      name: 'c_total',
      help: 'c',
      type: 'counter',
      aggregator: 'sum',
      values: [
        { value: 3, labels: { a: 'x' } },
        { value: 1, labels: { a: 'y' } },
      ],
    },
    {
      name: 'h',
      help: 'h',
      type: 'histogram',
      aggregator: 'sum',
      values: [
        { value: 1, labels: { le: 0.1, m: 'k' }, metricName: 'h_bucket' },
        { value: 4, labels: { m: 'k', le: '+Inf' }, metricName: 'h_bucket' },
        { value: 4, labels: { m: 'k' }, metricName: 'h_count' },
      ],
    },
    { name: 'g', help: 'g', type: 'gauge', aggregator: 'sum', values: [{ value: 5, labels: {} }] },
  ]
  const copy = structuredClone([retained, snapshot])
  const once = foldCumulative(retained, snapshot)
  const twice = foldCumulative(once, snapshot)
  assert.deepEqual([retained, snapshot], copy)
  assert.deepEqual(
    twice.map((m) => m.name),
    ['c_total', 'h'],
  )
  assert.deepEqual(twice[0]!.values, [
    { value: 8, labels: { a: 'x' } },
    { value: 2, labels: { a: 'y' } },
  ])
  assert.deepEqual(
    twice[1]!.values.map((v) => v.value),
    [2, 8, 8],
  )
})

test('a summary from several sources keeps only _sum and _count, also in the retained total', () => {
  const summary = (n: number): MetricJSON => ({
    name: 's',
    help: 's',
    type: 'summary',
    aggregator: 'sum',
    values: [
      { value: n, labels: { quantile: 0.5 } },
      { value: n, labels: {}, metricName: 's_sum' },
      { value: 1, labels: {}, metricName: 's_count' },
    ],
  })
  const alone = withoutMergedQuantiles([[summary(2)]])
  assert.equal(alone[0]![0]!.values.length, 3, 'one source: quantiles are right and kept')
  const merged = withoutMergedQuantiles([[summary(2)], [summary(3)]])
  for (const source of merged) {
    assert.deepEqual(
      source[0]!.values.map((v) => v.metricName),
      ['s_sum', 's_count'],
    )
  }
  const retained = foldCumulative([], [summary(4)])
  assert.deepEqual(
    retained[0]!.values.map((v) => [v.metricName, v.value]),
    [
      ['s_sum', 4],
      ['s_count', 1],
    ],
  )
})
