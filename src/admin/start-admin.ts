/**
 * Everything the server needs for the admin API in one call: the metrics
 * aggregator over the control channel, the control-channel backend, and the
 * HTTP listener. The server supplies only what it alone knows: which workers
 * are live and whether it is ready.
 */
import type { Logger } from 'pino'
import { redactConfig } from '../config/redact.ts'
import type { ControlClient } from '../control/control-channel.ts'
import type { MainMetrics } from '../metrics/main-metrics.ts'
import { MetricsAggregator } from '../metrics/metrics-aggregator.ts'
import { metricSpecs } from '../metrics/names.ts'
import { type AdminServer, createAdminServer } from './admin-server.ts'
import { createControlBackend } from './control-backend.ts'
import { RateHistory } from './rate-history.ts'
import { readStatus, type StatusListener } from './status.ts'
import type { AdminBackend } from './types.ts'

export interface StartAdminOptions {
  /** The config's `admin:` section. */
  config: {
    enabled: boolean
    host: string
    port: number
    token?: string | undefined
    ui?: boolean
    publicMetrics?: boolean
  }
  /** The whole effective configuration, shown redacted by `GET /config`. */
  effectiveConfig?: unknown
  /** The bound listeners (empty until they are), for `GET /status`. */
  listeners?: () => readonly StatusListener[]
  metrics: MainMetrics
  control: ControlClient
  /** threadIds of the pool's live workers (e.g. `() => pool.threads.map((w) => w.threadId)`). */
  workerThreadIds: () => readonly number[]
  /** Every listener bound, every worker ready, not draining. */
  isReady: () => boolean
  /** Start-up finished: `/healthz` answers 503 before (the admin API listens while the workers start). */
  isLive?: () => boolean
  logger?: Logger
  /** Restarts shown for worker `id` (its index in `workerThreadIds()`); default 0. */
  restarts?: (id: number, threadId: number) => number
  /** The stable number of worker `threadId` (`GET /workers` id, `worker` metric label); default: its position. */
  workerIndex?: (threadId: number) => number | undefined
  /** The aggregator to serve `/metrics` from (the server shares one with `$SYS`); default: a new one. */
  aggregator?: MetricsAggregator
  /** Longest wait for workers per scrape or request, ms; default 1000. */
  timeoutMs?: number
  /** `POST /reload` (the server's reload); absent: no such route. */
  reload?: AdminBackend['reload']
  /** `GET /cluster` (the cluster's nodes); absent without `cluster:`. */
  cluster?: AdminBackend['cluster']
}

export interface RunningAdmin {
  server: AdminServer
  /** The per-second samples behind `GET /rates`. */
  rates: RateHistory
  /** Call `workerExited(threadId)` when a worker dies (a thread id leaving the live list is noticed too). */
  aggregator: MetricsAggregator
  close(): Promise<void>
}

// what GET /status reads from the main thread's registry (the rest comes from the workers)
const statusMainFamilies = [
  metricSpecs.buildInfo.name,
  metricSpecs.accepted.name,
  metricSpecs.rejected.name,
  metricSpecs.workerRestarts.name,
]

/** Starts the admin API, or returns null when `admin.enabled` is false. */
export async function startAdmin(options: StartAdminOptions): Promise<RunningAdmin | null> {
  if (!options.config.enabled) return null
  const timeoutMs = options.timeoutMs ?? 1000
  const aggregator =
    options.aggregator ??
    new MetricsAggregator(options.metrics, options.control, options.workerThreadIds, {
      timeoutMs,
      ...(options.workerIndex === undefined ? {} : { workerIndex: options.workerIndex }),
    })
  const startedAt = Date.now()
  const rates = new RateHistory({
    control: options.control,
    metrics: options.metrics,
    workerThreadIds: options.workerThreadIds,
  })
  const controlBackend = createControlBackend({
    control: options.control,
    aggregator,
    workerThreadIds: options.workerThreadIds,
    isReady: options.isReady,
    ...(options.isLive === undefined ? {} : { isLive: options.isLive }),
    ...(options.restarts === undefined ? {} : { restarts: options.restarts }),
    ...(options.workerIndex === undefined ? {} : { workerIndex: options.workerIndex }),
    ...(options.reload === undefined ? {} : { reload: options.reload }),
    timeoutMs,
  })
  const listeners = options.listeners ?? (() => [])
  const redacted = redactConfig(options.effectiveConfig ?? { admin: options.config })
  const backend: AdminBackend = {
    ...controlBackend,
    status: () =>
      readStatus({
        metrics: () => aggregator.merged(statusMainFamilies),
        listeners,
        workers: () => options.workerThreadIds().length,
        startedAt,
      }),
    rates: (since?: number) => ({
      intervalMs: rates.intervalMs,
      capacity: rates.capacity,
      samples: rates.samples(since),
    }),
    config: () => redacted,
    ...(options.cluster === undefined ? {} : { cluster: options.cluster }),
  }
  const server = await createAdminServer({
    host: options.config.host,
    port: options.config.port,
    ...(options.config.token === undefined ? {} : { token: options.config.token }),
    publicMetrics: options.config.publicMetrics === true,
    backend,
    ...(options.logger === undefined ? {} : { logger: options.logger }),
    ui: options.config.ui !== false,
  })
  // workers may still be starting: the first samples simply find fewer of them
  void rates.start()
  return {
    server,
    rates,
    aggregator,
    close: async () => {
      rates.stop()
      await server.close()
    },
  }
}
