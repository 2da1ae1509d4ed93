/**
 * The prom-client parts only the main thread uses (the process metrics, the
 * aggregation of the workers' metrics), each from its own file: see prom.ts.
 */
import { createRequire } from 'node:module'
import type * as Prom from 'prom-client'

const require = createRequire(import.meta.url)

/** prom-client's `collectDefaultMetrics`. */
export const collectDefaultMetrics =
  require('prom-client/lib/defaultMetrics') as typeof Prom.collectDefaultMetrics

/** prom-client's `AggregatorRegistry`. */
export const AggregatorRegistry = require('prom-client/lib/cluster') as typeof Prom.AggregatorRegistry
export type AggregatorRegistry<T extends Prom.RegistryContentType = Prom.PrometheusContentType> =
  Prom.AggregatorRegistry<T>
