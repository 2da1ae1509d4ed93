/**
 * prom-client's classes, each loaded from its own file. The package's index
 * loads everything it offers at once: the Pushgateway (`node:http`, `https`,
 * `zlib` and with it Node's zip modules), the cluster aggregator
 * (`node:cluster`), the default metrics (`@opentelemetry/api`): 64 Node
 * modules, ~1.7 MB of heap and ~9 MB of RSS in every thread that imports it,
 * where a worker uses four classes. test/metrics/prom.test.ts checks that these
 * are the index's own classes, so a prom-client release that moves a file
 * fails there, not in production.
 */
import { createRequire } from 'node:module'
import type * as Prom from 'prom-client'

const require = createRequire(import.meta.url)

/** prom-client's `Registry`. */
export const Registry = require('prom-client/lib/registry') as typeof Prom.Registry
export type Registry = Prom.Registry

/** prom-client's `Counter`. */
export const Counter = require('prom-client/lib/counter') as typeof Prom.Counter
export type Counter<T extends string = string> = Prom.Counter<T>
/** A counter's child for one set of label values. */
export type CounterChild = Prom.Counter.Internal

/** prom-client's `Gauge`. */
export const Gauge = require('prom-client/lib/gauge') as typeof Prom.Gauge
export type Gauge<T extends string = string> = Prom.Gauge<T>

/** prom-client's `Histogram`. */
export const Histogram = require('prom-client/lib/histogram') as typeof Prom.Histogram
export type Histogram<T extends string = string> = Prom.Histogram<T>
