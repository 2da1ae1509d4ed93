/**
 * What the admin API needs from the running server. The admin server only
 * speaks HTTP; the server (main thread) implements {@link AdminBackend} over
 * its pool, listeners and the control channel.
 */
import type { ConnectionInfo } from '../control/protocol.ts'
import type { RateSample } from './rate-history.ts'
import type { StatusSummary } from './status.ts'

export type { ConnectionInfo, RateSample, StatusSummary }

/** One worker thread, as `GET /workers` shows it. */
export interface WorkerInfo {
  /** The server's stable slot/number for this worker. */
  id: number
  /** `threadId` of the worker thread (changes when the worker is replaced). */
  threadId: number
  /** Open client connections on this worker. */
  connections: number
  /** Event-loop utilization, 0..1, over the last measuring interval. */
  eventLoopUtilization: number
  /** How many times this worker slot was replaced after a crash. */
  restarts: number
  /** False when the worker did not answer in time (the figures are then its last known ones). */
  responding?: boolean
}

export interface ConnectionsQuery {
  /** 1..1000. */
  limit: number
  /** The `nextCursor` of the previous page. */
  cursor?: string
  /** Only connections with exactly this client id. */
  clientId?: string
  /** Only connections whose client id contains this text. */
  search?: string
}

export interface ConnectionsPage {
  items: ConnectionInfo[]
  /** Pass as `cursor` for the next page; null on the last page. */
  nextCursor: string | null
}

export interface MetricsBody {
  body: string
  contentType: string
}

/** The server side of the admin API. Errors thrown here become 500 JSON errors (or their own MQTTD_ERR_ADMIN_* status). */
export interface AdminBackend {
  /** Every listener bound and every worker ready, and not draining. */
  isReady(): boolean
  /**
   * Whether the server finished starting (it stays live while draining);
   * `/healthz` answers 503 before. Default: always live.
   */
  isLive?(): boolean
  /** The aggregated exposition; `accept` is the scraper's Accept header. */
  metrics(accept?: string): Promise<MetricsBody>
  workers(): Promise<WorkerInfo[]>
  connections(query: ConnectionsQuery): Promise<ConnectionsPage>
  /** Disconnects the client (v5: DISCONNECT 0x98 "Administrative action"); false when no such client. */
  kick(clientId: string): Promise<boolean>
  /** The `limit` most recently connected clients, newest first (`GET /connections/recent`). */
  recent?(limit: number): Promise<ConnectionInfo[]>
  /** Aggregate figures for the status page (`GET /status`). */
  status?(): Promise<StatusSummary>
  /** Per-second samples ending after `since` (epoch ms), oldest first (`GET /rates`). */
  rates?(since?: number): { intervalMs: number; capacity: number; samples: RateSample[] }
  /** The effective configuration with secrets redacted (`GET /config`). */
  config?(): unknown
  /** The nodes of the cluster and their state (`GET /cluster`); absent without `cluster:`. */
  cluster?(): Promise<unknown>
  /** Re-reads the config and applies it (`POST /reload`); absent: no such route. */
  reload?(): Promise<ReloadResult>
}

/** What a reload applied and what it could not. */
export interface ReloadReport {
  /** The config file re-read (null: the embedded default). */
  file: string | null
  /** Keys (or files) whose new values now apply. */
  applied: string[]
  /** Changed keys that need a restart; their running values stay. */
  restartNeeded: string[]
}

/** A reload's outcome: the report, or the error that refused the new config (the old one keeps running). */
export type ReloadResult =
  | { ok: true; report: ReloadReport }
  | { ok: false; error: { code: string; message: string } }
