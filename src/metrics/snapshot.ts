/**
 * Pure helpers over `getMetricsAsJSON()` snapshots, used by the aggregator to
 * keep dead workers' counters and to shape a merge for one exposition format.
 */
import type { MetricJSON, MetricValue } from './fast-metrics.ts'
import { perWorkerMetricNames } from './names.ts'

export type { MetricJSON, MetricValue }

/** Whether a family only ever goes up, so a dead worker's last value must stay in the sum. */
export function isCumulative(metric: MetricJSON): boolean {
  return metric.type === 'counter' || metric.type === 'histogram' || metric.type === 'summary'
}

/** A summary's `_sum` and `_count` go up; its quantiles do not (and cannot be added). */
function isCumulativeSample(metric: MetricJSON, value: MetricValue): boolean {
  return metric.type !== 'summary' || value.metricName !== undefined
}

function sampleKey(value: MetricValue): string {
  const keys = Object.keys(value.labels).sort()
  let key = value.metricName ?? ''
  for (const k of keys) key += `\u0000${k}\u0001${String(value.labels[k])}`
  return key
}

/**
 * Adds the counters, histograms and summaries' `_sum`/`_count` of `snapshot`
 * into `retained` (a new array; neither input is changed). Gauges of
 * `snapshot` are left out: a dead worker's open connections or utilization
 * mean nothing any more.
 */
export function foldCumulative(
  retained: readonly MetricJSON[],
  snapshot: readonly MetricJSON[],
): MetricJSON[] {
  const byName = new Map<string, { metric: MetricJSON; samples: Map<string, MetricValue> }>()
  const add = (metric: MetricJSON): void => {
    if (!isCumulative(metric)) return
    let entry = byName.get(metric.name)
    if (entry === undefined) {
      entry = { metric: { ...metric, values: [] }, samples: new Map() }
      byName.set(metric.name, entry)
    }
    for (const v of metric.values) {
      if (!isCumulativeSample(metric, v)) continue
      const key = sampleKey(v)
      const sample = entry.samples.get(key)
      if (sample === undefined) {
        const copy: MetricValue = { value: v.value, labels: { ...v.labels } }
        if (v.metricName !== undefined) copy.metricName = v.metricName
        entry.samples.set(key, copy)
        entry.metric.values.push(copy)
      } else {
        sample.value += v.value
      }
    }
  }
  for (const m of retained) add(m)
  for (const m of snapshot) add(m)
  return [...byName.values()].map((e) => e.metric)
}

/**
 * The main thread's own families, made safe to merge: prom-client marks some
 * default metrics `omit` (meant for a cluster master that has its own copy),
 * which would drop them from the merge although main is their only source.
 */
export function mainForMerge(metrics: readonly MetricJSON[]): MetricJSON[] {
  return metrics.map((m) => (m.aggregator === 'omit' ? { ...m, aggregator: 'first' } : m))
}

/**
 * OpenMetrics names a counter family without `_total` and its sample with it.
 * prom-client renames registered counters itself but not the wrappers that
 * `AggregatorRegistry.aggregate` builds, so strip the suffix before merging.
 */
export function forOpenMetrics(metrics: readonly MetricJSON[]): MetricJSON[] {
  return metrics.map((m) => (m.type === 'counter' ? { ...m, name: m.name.replace(/_total$/, '') } : m))
}

/**
 * Quantiles of a summary cannot be merged (adding two workers' medians means
 * nothing), so a summary reported by more than one source keeps only its
 * `_sum` and `_count`, which do add up. Handler modules should use histograms.
 */
export function withoutMergedQuantiles(sources: readonly (readonly MetricJSON[])[]): MetricJSON[][] {
  const seen = new Map<string, number>()
  for (const source of sources) {
    for (const m of source) if (m.type === 'summary') seen.set(m.name, (seen.get(m.name) ?? 0) + 1)
  }
  if (![...seen.values()].some((n) => n > 1)) return sources as MetricJSON[][]
  return sources.map((source) =>
    source.map((m) =>
      m.type === 'summary' && (seen.get(m.name) ?? 0) > 1
        ? { ...m, values: m.values.filter((v) => v.metricName !== undefined) }
        : m,
    ),
  )
}

/**
 * A worker's snapshot with the `worker` label of mqttd's per-worker gauges set
 * to the worker's stable index (a new array; the input is unchanged). Without
 * an index (the worker is not in a slot) the snapshot is returned as is.
 */
export function withWorkerLabel(snapshot: readonly MetricJSON[], index: number | undefined): MetricJSON[] {
  if (index === undefined) return snapshot as MetricJSON[]
  const worker = String(index)
  return snapshot.map((m) =>
    perWorkerMetricNames.has(m.name)
      ? { ...m, values: m.values.map((v) => ({ ...v, labels: { ...v.labels, worker } })) }
      : m,
  )
}

/**
 * prom-client's default metrics include gauges named `*_total`
 * (`nodejs_active_handles_total`, `nodejs_active_requests_total`,
 * `nodejs_active_resources_total`), which Prometheus tooling reads as counters.
 * They are exposed without the suffix: `mqttd_nodejs_active_handles`, ….
 */
export function withoutTotalGauges(metrics: readonly MetricJSON[]): MetricJSON[] {
  return metrics.map((m) =>
    m.type === 'gauge' && m.name.endsWith('_total') ? { ...m, name: m.name.slice(0, -'_total'.length) } : m,
  )
}
