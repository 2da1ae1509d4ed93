/**
 * The main ↔ worker control protocol: every request the main thread sends
 * over the control channel, with what it carries and what each worker
 * answers. `ControlClient.request` and `ControlServer.handle` are typed
 * against {@link ControlProtocol}, so neither end casts. Everything here
 * crosses a thread: plain data only (structured clone).
 */
import type { Transport } from '../handlers/types.ts'

/** One connected client, as a worker reports it and `GET /connections` shows it. */
export interface ConnectionInfo {
  clientId: string
  /** `threadId` of the worker running the connection. */
  workerId: number
  transport: Transport
  /** The `name` of the listener the client connected to. */
  listener: string
  remoteAddress: string | null
  /** 3 = MQTT 3.1, 4 = 3.1.1, 5 = 5.0. */
  protocolVersion: number
  /** When CONNECT was accepted, as an ISO 8601 string. */
  connectedSince: string
  /** Keepalive in seconds (0 = none). */
  keepalive: number
  bytesIn: number
  bytesOut: number
}

/** `connections:list`: one page of a worker's connected clients, in start order. */
export interface ConnectionsListRequest {
  limit: number
  /** The worker's sequence number of the last connection of the previous page. */
  after?: number
  /** Only connections with exactly this client id. */
  clientId?: string
  /** Only connections whose client id contains this text. */
  search?: string
}

export interface ConnectionsListReply {
  items: Array<ConnectionInfo & { seq: number }>
  more: boolean
}

/** A worker's load: open connections and event-loop utilization since the previous ask. */
export interface WorkerLoad {
  connections: number
  /** Event-loop utilization (0..1) since the previous call. */
  eventLoopUtilization: number
}

/**
 * The running totals the admin API samples once a second for its rate
 * history: a few sums, no registry walk, so sampling stays cheap.
 */
export interface WorkerTotals {
  messagesIn: number
  messagesOut: number
  bytesIn: number
  bytesOut: number
  connections: number
  /** By drop reason. */
  dropped: Record<string, number>
  /** By refusal reason, over all listeners. */
  rejected: Record<string, number>
}

/** One exported sample, as in prom-client's `getMetricsAsJSON()`. */
export interface MetricValue {
  value: number
  labels: Record<string, string | number>
  metricName?: string
}

/** One metric family, as in prom-client's `getMetricsAsJSON()`: what a worker's metrics snapshot is made of. */
export interface MetricJSON {
  name: string
  help: string
  type: string
  values: MetricValue[]
  aggregator: string
}

/** What a worker's drain did: connections closed in time, and those destroyed at the timeout. */
export interface DrainResult {
  closed: number
  destroyed: number
}

/** Request type → what the request carries and what one worker answers. */
export interface ControlProtocol {
  /** Handlers loaded and `init` ran (rejects with the handler's error otherwise). */
  'worker:ready': { request: null; reply: { threadId: number } }
  'connections:list': { request: ConnectionsListRequest; reply: ConnectionsListReply }
  /** Disconnects every connection of the client id (v5: DISCONNECT 0x98); replies how many. */
  /** The worker's `limit` most recently started connected clients, newest first. */
  'connections:recent': { request: { limit: number }; reply: ConnectionsListReply['items'] }
  'connections:kick': { request: { clientId: string }; reply: number }
  'workers:info': { request: null; reply: WorkerLoad & { threadId: number } }
  /** Runs the handlers' `shutdown`, then closes every connection; idempotent (it is repeated). */
  drain: { request: { timeoutMs: number }; reply: DrainResult }
  /** The worker's metrics registry, for the aggregator in main. */
  metrics: { request: null; reply: MetricJSON[] }
  /** A few running totals for the admin API's per-second rate history (cheap: no registry walk). */
  'metrics:totals': { request: null; reply: WorkerTotals }
}

/** What a request map looks like ({@link ControlProtocol} is the server's; tests bring their own). */
export type ControlMap<M> = { [K in keyof M]: { request: unknown; reply: unknown } }
