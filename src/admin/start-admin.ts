/**
 * Everything the server needs for the admin API in one call: the metrics
 * aggregator over the control channel, the control-channel backend, and the
 * HTTP listener. The server supplies only what it alone knows: which workers
 * are live and whether it is ready.
 */
import type { Logger } from 'pino'
import type { ControlClient } from '../control/control-channel.ts'
import type { MainMetrics } from '../metrics/main-metrics.ts'
import { MetricsAggregator } from '../metrics/metrics-aggregator.ts'
import { type AdminServer, createAdminServer } from './admin-server.ts'
import { createControlBackend } from './control-backend.ts'
import type { AdminBackend } from './types.ts'

export interface StartAdminOptions {
  /** The config's `admin:` section. */
  config: {
    enabled: boolean
    host: string
    port: number
    token?: string | undefined
    publicMetrics?: boolean
  }
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
  /** Longest wait for workers per scrape or request, ms; default 1000. */
  timeoutMs?: number
  /** `POST /reload` (the server's reload); absent: no such route. */
  reload?: AdminBackend['reload']
}

export interface RunningAdmin {
  server: AdminServer
  /** Call `workerExited(threadId)` when a worker dies (a thread id leaving the live list is noticed too). */
  aggregator: MetricsAggregator
  close(): Promise<void>
}

/** Starts the admin API, or returns null when `admin.enabled` is false. */
export async function startAdmin(options: StartAdminOptions): Promise<RunningAdmin | null> {
  if (!options.config.enabled) return null
  const timeoutMs = options.timeoutMs ?? 1000
  const aggregator = new MetricsAggregator(options.metrics, options.control, options.workerThreadIds, {
    timeoutMs,
  })
  const backend = createControlBackend({
    control: options.control,
    aggregator,
    workerThreadIds: options.workerThreadIds,
    isReady: options.isReady,
    ...(options.isLive === undefined ? {} : { isLive: options.isLive }),
    ...(options.restarts === undefined ? {} : { restarts: options.restarts }),
    ...(options.reload === undefined ? {} : { reload: options.reload }),
    timeoutMs,
  })
  const server = await createAdminServer({
    host: options.config.host,
    port: options.config.port,
    ...(options.config.token === undefined ? {} : { token: options.config.token }),
    publicMetrics: options.config.publicMetrics === true,
    backend,
    ...(options.logger === undefined ? {} : { logger: options.logger }),
  })
  return { server, aggregator, close: () => server.close() }
}
