/**
 * The broker's one metric, `mqttd_messages_dropped_total{reason}`. The
 * worker's metrics module usually registers it already (src/metrics/names.ts);
 * the broker then increments that counter, and registers its own only when the
 * registry has none (e.g. the broker run outside the server in tests).
 */
import { Counter, type Registry } from 'prom-client'
import { metricSpecs } from '../metrics/names.ts'

interface CounterChild {
  inc(n?: number): void
}

type ChildFactory = (reason: string) => CounterChild

function childFactory(registry: Registry): ChildFactory {
  const spec = metricSpecs.messagesDropped
  const existing = registry.getSingleMetric(spec.name) as unknown as
    | { child?: ChildFactory; labels?: ChildFactory }
    | undefined
  // src/metrics' FastCounter binds children with child(); a prom-client Counter with labels()
  if (typeof existing?.child === 'function') return existing.child.bind(existing)
  if (typeof existing?.labels === 'function') return existing.labels.bind(existing)
  const counter = new Counter({
    name: spec.name,
    help: spec.help,
    labelNames: ['reason'],
    registers: [registry],
  })
  return (reason) => counter.labels(reason)
}

/** Returns a function counting one dropped message for `reason` (a small fixed set: it is a label). */
export function dropCounter(registry: Registry): (reason: string) => void {
  const make = childFactory(registry)
  const children = new Map<string, CounterChild>()
  return (reason) => {
    let child = children.get(reason)
    if (child === undefined) {
      child = make(reason)
      children.set(reason, child)
    }
    child.inc()
  }
}
