/**
 * The main thread's metrics: what happens before a socket reaches a worker
 * (accepts, refusals by limits and queue), worker restarts, build info, and
 * the process-wide default metrics. Those are collected here only: each
 * worker would report the same process figures again, N-fold.
 */
import { readFileSync } from 'node:fs'
import { ChildCache } from './child-cache.ts'
import { type CounterChild, FastCounter, FastGauge } from './fast-metrics.ts'
import { mainRejectReasons, metricSpecs } from './names.ts'
import { Registry } from './prom.ts'
import { collectDefaultMetrics } from './prom-main.ts'

export interface MainMetricsOptions {
  /** Collect prom-client's process metrics (CPU, memory, event loop, GC) with prefix `mqttd_`. Default true. */
  defaultMetrics?: boolean
  /** Version label of `mqttd_build_info`; defaults to package.json's. */
  version?: string
  /** Listener names: their accept and refusal series are exported at 0 from the start, so rate() works at once. */
  listeners?: readonly string[]
}

/** mqttd's version from its package.json ('unknown' when unreadable). */
export function packageVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
      version?: unknown
    }
    return typeof pkg.version === 'string' ? pkg.version : 'unknown'
  } catch {
    return 'unknown'
  }
}

export class MainMetrics {
  readonly registry: Registry
  readonly #accepted: FastCounter
  readonly #rejected: FastCounter
  readonly #acceptedChildren = new Map<string, CounterChild>()
  readonly #rejectedChildren: ChildCache<CounterChild>
  readonly #restarts: CounterChild
  readonly #scrapeMisses: CounterChild

  constructor(options: MainMetricsOptions = {}) {
    const registry = new Registry()
    this.registry = registry
    if (options.defaultMetrics !== false) collectDefaultMetrics({ register: registry, prefix: 'mqttd_' })
    new FastGauge(metricSpecs.buildInfo, registry)
      .child(options.version ?? packageVersion(), process.versions.node)
      .set(1)
    this.#accepted = new FastCounter(metricSpecs.accepted, registry)
    this.#rejected = new FastCounter(metricSpecs.rejected, registry)
    this.#rejectedChildren = new ChildCache(
      (listener, reason) => this.#rejected.child(listener, reason),
      mainRejectReasons,
    )
    this.#restarts = new FastCounter(metricSpecs.workerRestarts, registry).child()
    this.#scrapeMisses = new FastCounter(metricSpecs.scrapeMisses, registry).child()
    for (const listener of options.listeners ?? []) {
      this.#acceptedChild(listener)
      this.#rejectedChildren.row(listener)
    }
  }

  #acceptedChild(listener: string): CounterChild {
    let child = this.#acceptedChildren.get(listener)
    if (child === undefined) {
      child = this.#accepted.child(listener)
      this.#acceptedChildren.set(listener, child)
    }
    return child
  }

  /** A socket was accepted on `listener` and handed to the pool. */
  accepted(listener: string): void {
    this.#acceptedChild(listener).inc()
  }

  /** A socket was refused in the main thread: 'max_connections', 'rate_limited', 'queue_full'. */
  rejected(listener: string, reason: string): void {
    this.#rejectedChildren.get(listener, reason).inc()
  }

  /** Main-thread refusals by reason (all listeners), for the admin API's rate history. */
  rejectedTotals(): Record<string, number> {
    return this.#rejected.sumBy('reason')
  }

  /** A worker thread died and the pool replaced it. */
  workerRestarted(): void {
    this.#restarts.inc()
  }

  /** `n` workers did not answer a scrape in time (their last snapshot was used). */
  scrapeMissed(n = 1): void {
    this.#scrapeMisses.inc(n)
  }
}
