/**
 * The metrics of one worker thread. Built once per worker; the connection
 * runner calls its methods on the hot path, handler modules register their own
 * metrics on `.registry` (through the hook context), and the main thread reads
 * the whole registry over the control channel on each scrape (see
 * {@link serveWorkerMetrics} and `MetricsAggregator`).
 *
 * Every per-packet method is one increment on a child bound at construction:
 * all packet types, QoS levels and known reasons are bound up front, anything
 * else is bound on first use and cached.
 */
import { performance } from 'node:perf_hooks'
import { lingeringStreams, lingerOverflows } from '../connection/linger.ts'
import type { ControlServer } from '../control/control-channel.ts'
import type { MetricJSON, WorkerLoad, WorkerTotals } from '../control/protocol.ts'
import type { HookName } from '../handlers/types.ts'
import { type ByteSource, ByteTracker } from './byte-tracker.ts'
import { ChildCache } from './child-cache.ts'
import {
  type CounterChild,
  FastCounter,
  FastGauge,
  FastHistogram,
  type GaugeChild,
  type HistogramChild,
} from './fast-metrics.ts'
import { knownDropReasons, metricSpecs, packetTypes, qosLevels, workerRejectReasons } from './names.ts'
import { Registry } from './prom.ts'

export type { ByteSource }

export interface WorkerMetricsOptions {
  /** The worker's `threadId`; labels the per-worker gauges. */
  workerId: number
  /** A registry to use instead of a new one (tests). */
  registry?: Registry
}

export type { WorkerLoad, WorkerTotals }

type EventLoopUtilization = ReturnType<typeof performance.eventLoopUtilization>

let current: WorkerMetrics | undefined

/**
 * The `WorkerMetrics` built in this thread (the last one, if several were),
 * for code that has no hook context at hand, e.g. the broker counting drops.
 * Use it instead of registering `mqttd_*` metrics a second time.
 */
export function currentWorkerMetrics(): WorkerMetrics | undefined {
  return current
}

function counterTable(metric: FastCounter, keys: readonly (string | number)[]): Map<string, CounterChild> {
  return new Map(keys.map((k) => [String(k), metric.child(String(k))]))
}

export class WorkerMetrics {
  /** This worker's registry: mqttd's metrics and every handler module's. */
  readonly registry: Registry
  readonly workerId: number

  readonly #connections: FastGauge
  readonly #workerConnections: GaugeChild
  readonly #rejected: FastCounter
  readonly #packetsIn: Map<string, CounterChild>
  readonly #packetsOut: Map<string, CounterChild>
  readonly #packetsInMetric: FastCounter
  readonly #packetsOutMetric: FastCounter
  readonly #bytesIn: CounterChild
  readonly #bytesOut: CounterChild
  readonly #messagesIn: CounterChild[]
  readonly #messagesOut: CounterChild[]
  readonly #messagesInMetric: FastCounter
  readonly #messagesOutMetric: FastCounter
  readonly #dropped: Map<string, CounterChild>
  readonly #droppedMetric: FastCounter
  readonly #hookDuration: FastHistogram
  readonly #hookErrors: FastCounter
  readonly #hookChildren: ChildCache<HistogramChild>
  readonly #hookErrorChildren: ChildCache<CounterChild>
  readonly #handoff: HistogramChild
  readonly #connectionChildren: ChildCache<GaugeChild>
  readonly #rejectedChildren: ChildCache<CounterChild>
  readonly #elu: GaugeChild
  readonly #bytes: ByteTracker
  #eluAtScrape: EventLoopUtilization
  #eluAtInfo: EventLoopUtilization

  constructor(options: WorkerMetricsOptions) {
    this.workerId = options.workerId
    const registry = options.registry ?? new Registry()
    this.registry = registry
    const worker = String(options.workerId)

    this.#connections = new FastGauge(metricSpecs.connections, registry)
    this.#workerConnections = new FastGauge(metricSpecs.workerConnections, registry).child(worker)
    this.#rejected = new FastCounter(metricSpecs.rejected, registry)
    this.#handoff = new FastHistogram(metricSpecs.handoff, registry).child()
    this.#packetsInMetric = new FastCounter(metricSpecs.packetsReceived, registry)
    this.#packetsOutMetric = new FastCounter(metricSpecs.packetsSent, registry)
    this.#packetsIn = counterTable(this.#packetsInMetric, packetTypes)
    this.#packetsOut = counterTable(this.#packetsOutMetric, packetTypes)
    this.#bytes = new ByteTracker((received, sent) => {
      this.#bytesIn.inc(received)
      this.#bytesOut.inc(sent)
    })
    const syncBytes = () => this.#bytes.sync()
    this.#bytesIn = new FastCounter(metricSpecs.bytesReceived, registry, syncBytes).child()
    this.#bytesOut = new FastCounter(metricSpecs.bytesSent, registry, syncBytes).child()
    this.#messagesInMetric = new FastCounter(metricSpecs.messagesReceived, registry)
    this.#messagesOutMetric = new FastCounter(metricSpecs.messagesSent, registry)
    this.#messagesIn = qosLevels.map((q) => this.#messagesInMetric.child(String(q)))
    this.#messagesOut = qosLevels.map((q) => this.#messagesOutMetric.child(String(q)))
    this.#droppedMetric = new FastCounter(metricSpecs.messagesDropped, registry)
    this.#dropped = counterTable(this.#droppedMetric, knownDropReasons)
    this.#hookDuration = new FastHistogram(metricSpecs.hookDuration, registry)
    this.#hookErrors = new FastCounter(metricSpecs.hookErrors, registry)
    this.#hookChildren = new ChildCache((module, hook) => this.#hookDuration.child(hook, module))
    this.#hookErrorChildren = new ChildCache((module, hook) => this.#hookErrors.child(hook, module))
    this.#connectionChildren = new ChildCache((listener, transport) =>
      this.#connections.child(listener, transport),
    )
    this.#rejectedChildren = new ChildCache(
      (listener, reason) => this.#rejected.child(listener, reason),
      workerRejectReasons,
    )

    this.#eluAtScrape = performance.eventLoopUtilization()
    this.#eluAtInfo = this.#eluAtScrape
    const eluGauge = new FastGauge(metricSpecs.eventLoopUtilization, registry, () => {
      const now = performance.eventLoopUtilization()
      this.#elu.set(performance.eventLoopUtilization(now, this.#eluAtScrape).utilization)
      this.#eluAtScrape = now
    })
    this.#elu = eluGauge.child(worker)
    const lingerGauge = new FastGauge(metricSpecs.lingeringSockets, registry, () =>
      lingeringChild.set(lingeringStreams()),
    )
    const lingeringChild = lingerGauge.child()
    let overflowsSeen = 0
    const overflowCounter = new FastCounter(metricSpecs.lingerOverflows, registry, () => {
      const n = lingerOverflows()
      overflowChild.inc(n - overflowsSeen)
      overflowsSeen = n
    })
    const overflowChild = overflowCounter.child()
    current = this
  }

  /** A client connection started on this worker (its task began). */
  connectionOpened(listener: string, transport: string): void {
    this.#connectionChildren.get(listener, transport).inc()
    this.#workerConnections.inc()
  }

  /** A connection counted by {@link connectionOpened} closed, for whatever reason. */
  connectionClosed(listener: string, transport: string): void {
    this.#connectionChildren.get(listener, transport).dec()
    this.#workerConnections.dec()
  }

  /** A worker-side refusal: 'auth_refused', 'protocol_error', 'connect_timeout', … */
  connectionRejected(listener: string, reason: string): void {
    this.#rejectedChildren.get(listener, reason).inc()
  }

  /** A packet of mqtt-packet `cmd` was parsed. */
  packetReceived(cmd: string): void {
    ;(this.#packetsIn.get(cmd) ?? this.#lazy(this.#packetsIn, this.#packetsInMetric, cmd)).inc()
  }

  /** A packet of mqtt-packet `cmd` was written. */
  packetSent(cmd: string): void {
    ;(this.#packetsOut.get(cmd) ?? this.#lazy(this.#packetsOut, this.#packetsOutMetric, cmd)).inc()
  }

  bytesReceived(n: number): void {
    this.#bytesIn.inc(n)
  }

  bytesSent(n: number): void {
    this.#bytesOut.inc(n)
  }

  /**
   * Counts `source`'s bytes from now on without any per-chunk work: each
   * scrape adds what it read and wrote since the previous one. Call
   * {@link untrackBytes} when the connection closes. Use this or
   * {@link bytesReceived}/{@link bytesSent} for a connection, not both.
   */
  trackBytes(source: ByteSource): void {
    this.#bytes.track(source)
  }

  /** Counts what `source` moved since the last scrape, and stops tracking it. */
  untrackBytes(source: ByteSource): void {
    this.#bytes.untrack(source)
  }

  /** A PUBLISH arrived from a client. */
  messageReceived(qos: number): void {
    ;(this.#messagesIn[qos] ?? this.#messagesInMetric.child(String(qos))).inc()
  }

  /** A PUBLISH was sent to a client. */
  messageSent(qos: number): void {
    ;(this.#messagesOut[qos] ?? this.#messagesOutMetric.child(String(qos))).inc()
  }

  /** A message was not delivered. Keep `reason` to a small fixed set: it is a label. */
  messageDropped(reason: string): void {
    ;(this.#dropped.get(reason) ?? this.#lazy(this.#dropped, this.#droppedMetric, reason)).inc()
  }

  /** One hook call of one handler module took `seconds`. */
  observeHook(hook: HookName, module: string, seconds: number): void {
    this.hookTimer(hook, module).observe(seconds)
  }

  /** One hook call threw, rejected or timed out. */
  hookError(hook: HookName, module: string): void {
    this.#hookErrorChildren.get(module, hook).inc()
  }

  /**
   * The duration child of one (hook, module) pair. A runner that keeps it per
   * handler saves even the two map reads of {@link observeHook}.
   */
  hookTimer(hook: HookName, module: string): HistogramChild {
    return this.#hookChildren.get(module, hook)
  }

  /** Time from accept in the main thread to the start of this worker's connection task. */
  observeHandoff(seconds: number): void {
    this.#handoff.observe(seconds)
  }

  /** Open connections and event-loop utilization since the previous call (for `/workers`). */
  load(): WorkerLoad {
    const now = performance.eventLoopUtilization()
    const elu = performance.eventLoopUtilization(now, this.#eluAtInfo).utilization
    this.#eluAtInfo = now
    return { connections: this.#workerConnections.value, eventLoopUtilization: elu }
  }

  /** Running totals since this worker started (see {@link WorkerTotals}). */
  totals(): WorkerTotals {
    this.#bytes.sync()
    return {
      messagesIn: this.#messagesInMetric.sumBy()[''] ?? 0,
      messagesOut: this.#messagesOutMetric.sumBy()[''] ?? 0,
      bytesIn: this.#bytesIn.value,
      bytesOut: this.#bytesOut.value,
      connections: this.#workerConnections.value,
      dropped: this.#droppedMetric.sumBy('reason'),
      rejected: this.#rejected.sumBy('reason'),
    }
  }

  #lazy(table: Map<string, CounterChild>, metric: FastCounter, key: string): CounterChild {
    const child = metric.child(key)
    table.set(key, child)
    return child
  }
}

/**
 * Makes this worker answer the main thread's `metrics` requests with its
 * registry's `getMetricsAsJSON()`, and `metrics:totals` with {@link WorkerMetrics.totals}.
 */
export function serveWorkerMetrics(control: ControlServer, metrics: WorkerMetrics): void {
  // prom-client types `type` as its own MetricType; on the wire it is the plain string MetricJSON says
  control.handle(
    'metrics',
    () => metrics.registry.getMetricsAsJSON() as Promise<unknown> as Promise<MetricJSON[]>,
  )
  control.handle('metrics:totals', () => metrics.totals())
}
