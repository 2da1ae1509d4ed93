/**
 * Opens the store in a worker thread (the file was prepared by the main
 * thread, store-file.ts) and registers its metrics: commit latency, commit
 * failures, refusals at `maxBytes`, bytes and rows on disk.
 */
import { Counter, Gauge, Histogram, type Registry } from '../../metrics/prom.ts'
import { SqliteStore } from './sqlite-store.ts'
import { type PersistenceOptions, storeFile } from './store-file.ts'
import type { BrokerStore } from './types.ts'

export interface WorkerStore {
  store: BrokerStore
  /** Counts one piece of new persistent state refused (maxBytes, a failed commit). */
  refused(): void
}

function metric<T>(registry: Registry, name: string, make: () => T): T {
  return (registry.getSingleMetric(name) as T | undefined) ?? make()
}

export function openWorkerStore(
  options: PersistenceOptions,
  owner: string,
  registry: Registry,
  onError: (err: unknown) => void,
): WorkerStore {
  const registers = [registry]
  const latency = metric(
    registry,
    'mqttd_store_commit_seconds',
    () =>
      new Histogram({
        name: 'mqttd_store_commit_seconds',
        help: 'Time one group commit of the persistent store took until durable (one transaction per event-loop turn per worker; sync always: until the WAL fdatasync after it returned).',
        buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25],
        registers,
      }),
  )
  const failures = metric(
    registry,
    'mqttd_store_commit_failures_total',
    () =>
      new Counter({
        name: 'mqttd_store_commit_failures_total',
        help: 'Group commits of the persistent store that failed (disk full, I/O error); what they carried was refused.',
        registers,
      }),
  )
  const refusals = metric(
    registry,
    'mqttd_store_refused_total',
    () =>
      new Counter({
        name: 'mqttd_store_refused_total',
        help: 'Publishes, sessions and subscriptions refused because the persistent store is full or failed to commit.',
        registers,
      }),
  )
  let lastError = 0
  const store = new SqliteStore({
    file: storeFile(options),
    owner,
    sync: options.sync,
    maxBytes: options.maxBytes,
    onCommit: (seconds, err) => {
      latency.observe(seconds)
      if (err === undefined) return
      failures.inc()
      // One log line per second at most: a full disk fails every turn
      const now = Date.now()
      if (now - lastError >= 1000) {
        lastError = now
        onError(err)
      }
    },
  })
  // Every worker sees the same file: the aggregated value is the max, not the sum
  metric(
    registry,
    'mqttd_store_bytes',
    () =>
      new Gauge({
        name: 'mqttd_store_bytes',
        help: 'Bytes of live pages in the persistent store file.',
        aggregator: 'max',
        registers,
        collect() {
          this.set(store.stats().bytes)
        },
      }),
  )
  metric(
    registry,
    'mqttd_store_rows',
    () =>
      new Gauge({
        name: 'mqttd_store_rows',
        help: 'Rows in the persistent store, by kind (sessions, subscriptions, outbound messages, retained messages, inbound QoS 2 ids awaiting PUBREL).',
        labelNames: ['kind'],
        aggregator: 'max',
        registers,
        collect() {
          for (const [kind, n] of Object.entries(store.stats().rows)) this.labels(kind).set(n)
        },
      }),
  )
  return { store, refused: () => refusals.inc() }
}
