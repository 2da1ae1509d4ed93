/**
 * Builds one exposition from the main thread's registry and every worker's,
 * on each scrape.
 *
 * Each worker answers the control request `metrics` with its registry's
 * `getMetricsAsJSON()`; `AggregatorRegistry.aggregate` merges the answers
 * (counters and histogram buckets sum, each gauge by its own aggregator).
 *
 * Two things keep the numbers honest:
 * - A stuck worker does not stall the scrape: after `timeoutMs` the scrape
 *   uses that worker's last snapshot and counts the miss.
 * - A dead worker's counters stay: its last snapshot's counters and
 *   histograms fold into a retained total, so no counter goes backwards across
 *   a worker restart (increments after its last scrape are lost with it).
 *   Its gauges are dropped.
 */

import type { ControlClient } from '../control/control-channel.ts'
import { negotiateFormat, openMetricsContentType, prometheusContentType } from './content-type.ts'
import type { MainMetrics } from './main-metrics.ts'
import { AggregatorRegistry } from './prom-main.ts'
import {
  foldCumulative,
  forOpenMetrics,
  type MetricJSON,
  mainForMerge,
  withoutMergedQuantiles,
  withoutTotalGauges,
  withWorkerLabel,
} from './snapshot.ts'

/** The live workers: how many, or their thread ids (then snapshots of ids not listed are folded as dead). */
export type LiveWorkers = () => number | readonly number[]

export interface MetricsAggregatorOptions {
  /** The longest a scrape waits for workers, in ms. Default 1000. */
  timeoutMs?: number
  /**
   * The stable number (0..N-1) of worker `threadId` (see WorkerSlots): the
   * per-worker gauges' `worker` label carries it instead of the thread id,
   * so a replaced worker continues its predecessor's series.
   */
  workerIndex?: (threadId: number) => number | undefined
}

export interface ScrapeResult {
  body: string
  contentType: string
}

export class MetricsAggregator {
  readonly #main: MainMetrics
  readonly #control: ControlClient
  readonly #liveWorkers: LiveWorkers
  readonly #timeoutMs: number
  readonly #workerIndex: ((threadId: number) => number | undefined) | undefined
  /** Last answer of each live worker, by threadId. */
  readonly #snapshots = new Map<number, MetricJSON[]>()
  /** Thread ids are never reused in a process, so a late answer of a dead worker is recognised forever. */
  readonly #exited = new Set<number>()
  #retained: MetricJSON[] = []

  constructor(
    main: MainMetrics,
    control: ControlClient,
    liveWorkers: LiveWorkers,
    options: MetricsAggregatorOptions = {},
  ) {
    this.#main = main
    this.#control = control
    this.#liveWorkers = liveWorkers
    this.#timeoutMs = options.timeoutMs ?? 1000
    this.#workerIndex = options.workerIndex
  }

  /** Prometheus text, or OpenMetrics when `accept` asks for `application/openmetrics-text`. */
  async scrape(accept?: string): Promise<ScrapeResult> {
    const sources = await this.collect()
    const openMetrics = negotiateFormat(accept) === 'openmetrics'
    const contentType = openMetrics ? openMetricsContentType : prometheusContentType
    const merged = withoutMergedQuantiles(sources)
    const shaped = openMetrics ? merged.map(forOpenMetrics) : merged
    const registry = AggregatorRegistry.aggregate<typeof contentType>(shaped)
    registry.setContentType(contentType)
    return { body: await registry.metrics(), contentType }
  }

  /**
   * The merged families as JSON (one value per series), for the admin API's
   * status summary. `mainFamilies` limits what is read from the main thread's
   * registry: the process metrics (e.g. open file descriptors, a directory
   * listing of /proc/self/fd) cost most with many clients and a summary needs none.
   */
  async merged(mainFamilies?: readonly string[]): Promise<MetricJSON[]> {
    const registry = AggregatorRegistry.aggregate(withoutMergedQuantiles(await this.collect(mainFamilies)))
    return (await registry.getMetricsAsJSON()) as unknown as MetricJSON[]
  }

  /**
   * Asks the live workers for their registries and returns the inputs of a
   * merge: main first, then the retained totals of dead workers, then one
   * snapshot per live worker (fresh, or the last one for a worker that missed).
   */
  async collect(mainFamilies?: readonly string[]): Promise<MetricJSON[][]> {
    const live = this.#liveWorkers()
    const expectedWorkers = typeof live === 'number' ? live : live.length
    const result = await this.#control.request('metrics', null, {
      expectedWorkers,
      timeoutMs: this.#timeoutMs,
    })
    for (const [threadId, snapshot] of result.replies) {
      if (!this.#exited.has(threadId)) this.#snapshots.set(threadId, snapshot)
    }
    const misses = result.missing + result.errors.size
    if (misses > 0) this.#main.scrapeMissed(misses)
    if (typeof live !== 'number') {
      const ids = new Set(live)
      for (const threadId of [...this.#snapshots.keys()]) if (!ids.has(threadId)) this.workerExited(threadId)
    }
    // Read main last, so this scrape already shows its own misses.
    const main = (mainFamilies === undefined
      ? await this.#main.registry.getMetricsAsJSON()
      : await Promise.all(
          mainFamilies.flatMap((name) => this.#main.registry.getSingleMetric(name)?.get() ?? []),
        )) as unknown as MetricJSON[]
    const workers = [...this.#snapshots].map(([threadId, snapshot]) =>
      withWorkerLabel(snapshot, this.#workerIndex?.(threadId)),
    )
    return [withoutTotalGauges(mainForMerge(main)), this.#retained, ...workers]
  }

  /** Call when a worker thread died: its last counters stay in every later scrape, its gauges go. */
  workerExited(threadId: number): void {
    this.#exited.add(threadId)
    const last = this.#snapshots.get(threadId)
    if (last === undefined) return
    this.#snapshots.delete(threadId)
    this.#retained = foldCumulative(this.#retained, last)
  }
}
