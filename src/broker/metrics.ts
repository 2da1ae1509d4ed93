/**
 * The broker's metrics. `mqttd_messages_dropped_total{reason}`: inside the
 * server the worker's WorkerMetrics owns it (pre-bound per known reason); the
 * broker registers its own only when run without one on that registry (e.g.
 * driven directly in tests). The refusals counter and the gauges of sessions,
 * subscriptions, queues and the retained store are the broker's own.
 */
import { type MetricSpec, metricSpecs } from '../metrics/names.ts'
import { Counter, type CounterChild, Gauge, type Registry } from '../metrics/prom.ts'
import { currentWorkerMetrics } from '../metrics/worker-metrics.ts'
import { type RefusalReason, refusalReasons } from './limits.ts'

/** Returns a function counting one dropped message for `reason` (a small fixed set: it is a label). */
export function dropCounter(registry: Registry): (reason: string) => void {
  const worker = currentWorkerMetrics()
  if (worker?.registry === registry) return (reason) => worker.messageDropped(reason)
  const spec = metricSpecs.messagesDropped
  const counter =
    (registry.getSingleMetric(spec.name) as Counter<'reason'> | undefined) ??
    new Counter({ name: spec.name, help: spec.help, labelNames: ['reason'], registers: [registry] })
  const children = new Map<string, CounterChild>()
  return (reason) => {
    let child = children.get(reason)
    if (child === undefined) {
      child = counter.labels(reason)
      children.set(reason, child)
    }
    child.inc()
  }
}

/** Counts one refusal: `packet` is 'publish', 'will' or 'subscribe'; `reason` one of limits.ts's. */
export type RefusalCounter = (packet: 'publish' | 'will' | 'subscribe', reason: RefusalReason) => void

/** The broker's refusals counter, `mqttd_broker_refusals_total{packet,reason}`, on `registry`. */
export function refusalCounter(registry: Registry): RefusalCounter {
  const spec = metricSpecs.brokerRefusals
  const counter =
    (registry.getSingleMetric(spec.name) as Counter<'packet' | 'reason'> | undefined) ??
    new Counter({ name: spec.name, help: spec.help, labelNames: [...spec.labelNames], registers: [registry] })
  const children = new Map<string, CounterChild>()
  // Exported at 0 from the start, so rate() and alerts work before the first refusal
  for (const packet of ['publish', 'will', 'subscribe'] as const)
    for (const reason of refusalReasons) {
      const child = counter.labels(packet, reason)
      child.inc(0)
      children.set(`${packet} ${reason}`, child)
    }
  return (packet, reason) => {
    const key = `${packet} ${reason}`
    let child = children.get(key)
    if (child === undefined) {
      child = counter.labels(packet, reason)
      children.set(key, child)
    }
    child.inc()
  }
}

/**
 * `mqttd_broker_shared_given_back_total` on `registry`: returns a function counting one share group
 * message handed to another member because the member holding it ended its session (router.ts).
 */
export function givenBackCounter(registry: Registry): () => void {
  const spec = metricSpecs.brokerSharedGivenBack
  const counter =
    (registry.getSingleMetric(spec.name) as Counter | undefined) ??
    new Counter({ name: spec.name, help: spec.help, registers: [registry] })
  // Exported at 0 from the start, so rate() and alerts work before the first one
  counter.inc(0)
  return () => counter.inc()
}

/** What the broker gauges read at each scrape. */
export interface BrokerGaugeSource {
  sessions(): { online: number; offline: number; queued: number; inflight: number }
  subscriptions(): number
  retained(): { messages: number; bytes: number }
}

/**
 * Registers the broker's gauges on `registry`; each reads `source` when
 * scraped, so nothing is counted on the hot path. A gauge already registered
 * (a second broker in the same thread) is replaced by this one.
 */
export function registerBrokerGauges(registry: Registry, source: BrokerGaugeSource): void {
  const gauge = (spec: MetricSpec, collect: (g: Gauge) => void): void => {
    registry.removeSingleMetric(spec.name)
    new Gauge({
      name: spec.name,
      help: spec.help,
      labelNames: [...spec.labelNames],
      aggregator: spec.aggregator ?? 'sum',
      registers: [registry],
      collect() {
        collect(this)
      },
    })
  }
  let sessions = source.sessions()
  gauge(metricSpecs.brokerSessions, (g) => {
    // read once per scrape: the queued and in-flight gauges use the same pass over the sessions
    sessions = source.sessions()
    g.set({ state: 'online' }, sessions.online)
    g.set({ state: 'offline' }, sessions.offline)
  })
  gauge(metricSpecs.brokerQueuedMessages, (g) => g.set(sessions.queued))
  gauge(metricSpecs.brokerInflightMessages, (g) => g.set(sessions.inflight))
  gauge(metricSpecs.brokerSubscriptions, (g) => g.set(source.subscriptions()))
  gauge(metricSpecs.brokerRetainedMessages, (g) => g.set(source.retained().messages))
  gauge(metricSpecs.brokerRetainedBytes, (g) => g.set(source.retained().bytes))
}
