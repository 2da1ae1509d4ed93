/**
 * The built-in auth's counters, from the one metric table (metrics/names.ts),
 * registered on the worker's registry so the admin API sums them across workers.
 */
import { metricSpecs } from '../metrics/names.ts'
import { Counter, type Registry } from '../metrics/prom.ts'

/** The counter of `key` on `registry`, created once per registry. */
export function metricCounter<L extends string>(
  registry: Registry,
  key: 'authFailures' | 'aclDenied',
): Counter<L> {
  const spec = metricSpecs[key]
  return (
    (registry.getSingleMetric(spec.name) as Counter<L> | undefined) ??
    new Counter<L>({
      name: spec.name,
      help: spec.help,
      labelNames: spec.labelNames as unknown as L[],
      registers: [registry],
    })
  )
}
