/**
 * The broker's one metric, `mqttd_messages_dropped_total{reason}`. Inside the
 * server the worker's WorkerMetrics owns it (pre-bound per known reason); the
 * broker registers its own only when run without one on that registry (e.g.
 * driven directly in tests).
 */
import { Counter, type Registry } from 'prom-client'
import { metricSpecs } from '../metrics/names.ts'
import { currentWorkerMetrics } from '../metrics/worker-metrics.ts'

/** Returns a function counting one dropped message for `reason` (a small fixed set: it is a label). */
export function dropCounter(registry: Registry): (reason: string) => void {
  const worker = currentWorkerMetrics()
  if (worker?.registry === registry) return (reason) => worker.messageDropped(reason)
  const spec = metricSpecs.messagesDropped
  const counter =
    (registry.getSingleMetric(spec.name) as Counter<'reason'> | undefined) ??
    new Counter({ name: spec.name, help: spec.help, labelNames: ['reason'], registers: [registry] })
  const children = new Map<string, Counter.Internal>()
  return (reason) => {
    let child = children.get(reason)
    if (child === undefined) {
      child = counter.labels(reason)
      children.set(reason, child)
    }
    child.inc()
  }
}
