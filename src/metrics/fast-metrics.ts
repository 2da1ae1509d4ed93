/**
 * Counters, gauges and histograms whose children are plain objects bound once
 * to their label values, registered into a prom-client `Registry` as custom
 * metrics (the registry only calls `get()`).
 *
 * Why not prom-client's own `labels(...)` children: each of their `inc()` /
 * `observe()` calls hashes and validates the label object again, which is a
 * label lookup per packet. Here a child increment is one property add; the
 * export shape is built only when the registry is read (on scrape).
 */
import type { Metric, Registry } from 'prom-client'
import type { MetricJSON, MetricValue } from '../control/protocol.ts'
import type { MetricSpec } from './names.ts'

export type { MetricJSON, MetricValue }

type Labels = Readonly<Record<string, string>>

function toLabels(names: readonly string[], values: readonly string[]): Labels {
  const labels: Record<string, string> = {}
  for (let i = 0; i < names.length; i++) labels[names[i]!] = values[i] ?? ''
  return Object.freeze(labels)
}

/** A counter bound to one label set. */
export class CounterChild {
  value = 0
  readonly labels: Labels
  constructor(labels: Labels) {
    this.labels = labels
  }
  /** Adds `n` (default 1); non-positive or NaN amounts are ignored so the counter never goes down. */
  inc(n = 1): void {
    if (n > 0) this.value += n
  }
}

/** A gauge bound to one label set. */
export class GaugeChild {
  value = 0
  readonly labels: Labels
  constructor(labels: Labels) {
    this.labels = labels
  }
  inc(n = 1): void {
    this.value += n
  }
  dec(n = 1): void {
    this.value -= n
  }
  set(v: number): void {
    this.value = v
  }
}

/** A histogram bound to one label set; `counts[i]` counts observations in bucket i alone (not cumulative). */
export class HistogramChild {
  readonly counts: Float64Array
  sum = 0
  count = 0
  readonly labels: Labels
  readonly #bounds: readonly number[]
  constructor(labels: Labels, bounds: readonly number[]) {
    this.labels = labels
    this.#bounds = bounds
    this.counts = new Float64Array(bounds.length)
  }
  observe(v: number): void {
    if (!Number.isFinite(v)) return
    this.sum += v
    this.count++
    const bounds = this.#bounds
    for (let i = 0; i < bounds.length; i++) {
      if (v <= bounds[i]!) {
        this.counts[i]!++
        return
      }
    }
  }
}

abstract class FastMetric<C extends { readonly labels: Labels }> {
  name: string
  readonly help: string
  readonly type: 'counter' | 'gauge' | 'histogram'
  readonly aggregator: string
  readonly labelNames: readonly string[]
  protected readonly children = new Map<string, C>()
  /** Runs before each read, to refresh computed values (event-loop utilization, live byte counts). */
  protected readonly collect: (() => void) | undefined

  constructor(spec: MetricSpec, registry: Registry, collect?: () => void) {
    this.collect = collect
    this.name = spec.name
    this.help = spec.help
    this.type = spec.type
    this.aggregator = spec.aggregator ?? 'sum'
    this.labelNames = spec.labelNames
    registry.registerMetric(this as unknown as Metric)
  }

  protected abstract create(labels: Labels): C

  /** The child for these label values (in `labelNames` order), created on first use. Keep it: that is the point. */
  child(...values: string[]): C {
    const key = values.join('\u0000')
    let child = this.children.get(key)
    if (child === undefined) {
      child = this.create(toLabels(this.labelNames, values))
      this.children.set(key, child)
    }
    return child
  }

  /**
   * Sums the children's values by the value of label `by` (or all into `''`),
   * without building the export shape: the admin API's per-second sampling.
   */
  sumBy(by?: string): Record<string, number> {
    const sums: Record<string, number> = {}
    for (const c of this.children.values()) {
      const key = by === undefined ? '' : String(c.labels[by] ?? '')
      sums[key] = (sums[key] ?? 0) + ((c as { value?: number }).value ?? 0)
    }
    return sums
  }

  /** Forgets every child (prom-client calls this from `registry.resetMetrics()`). */
  reset(): void {
    this.children.clear()
  }

  abstract get(): Promise<MetricJSON>
}

export class FastCounter extends FastMetric<CounterChild> {
  protected create(labels: Labels): CounterChild {
    return new CounterChild(labels)
  }
  async get(): Promise<MetricJSON> {
    this.collect?.()
    const values: MetricValue[] = []
    for (const c of this.children.values()) values.push({ value: c.value, labels: c.labels })
    return { name: this.name, help: this.help, type: this.type, values, aggregator: this.aggregator }
  }
}

export class FastGauge extends FastMetric<GaugeChild> {
  protected create(labels: Labels): GaugeChild {
    return new GaugeChild(labels)
  }
  async get(): Promise<MetricJSON> {
    this.collect?.()
    const values: MetricValue[] = []
    for (const c of this.children.values()) values.push({ value: c.value, labels: c.labels })
    return { name: this.name, help: this.help, type: this.type, values, aggregator: this.aggregator }
  }
}

export class FastHistogram extends FastMetric<HistogramChild> {
  readonly bounds: readonly number[]
  constructor(spec: MetricSpec, registry: Registry) {
    super(spec, registry)
    this.bounds = spec.buckets ?? [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]
  }
  protected create(labels: Labels): HistogramChild {
    return new HistogramChild(labels, this.bounds)
  }
  async get(): Promise<MetricJSON> {
    const values: MetricValue[] = []
    const bucket = `${this.name}_bucket`
    for (const c of this.children.values()) {
      let acc = 0
      for (let i = 0; i < this.bounds.length; i++) {
        acc += c.counts[i]!
        values.push({ value: acc, labels: { ...c.labels, le: this.bounds[i]! }, metricName: bucket })
      }
      values.push({ value: c.count, labels: { ...c.labels, le: '+Inf' }, metricName: bucket })
      values.push({ value: c.sum, labels: c.labels, metricName: `${this.name}_sum` })
      values.push({ value: c.count, labels: c.labels, metricName: `${this.name}_count` })
    }
    return { name: this.name, help: this.help, type: this.type, values, aggregator: this.aggregator }
  }
}
