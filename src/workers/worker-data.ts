/**
 * What the main thread gives every worker at start (piscina `workerData`)
 * and with every connection task. Plain data only: it crosses a thread.
 */
import type { Socket } from 'node:net'
import type { ListenerType } from '../config/schema.ts'
import type { HandlerSpec } from '../handlers/loader.ts'
import type { RunnerLimits } from '../protocol/host.ts'
import type { TlsMaterial } from '../transport/tls.ts'

export interface WorkerListener {
  name: string
  type: ListenerType
  /** ws/wss: the URL path. */
  path: string
  /** tls/wss: key, certificate and options, read by the main thread. */
  tls?: TlsMaterial
}

export interface WorkerData {
  instanceId: string
  workerCount: number
  baseDir: string
  handlers: HandlerSpec[]
  listeners: WorkerListener[]
  limits: RunnerLimits & { hookTimeoutMs: number }
  logLevel: string
}

/** One connection task: the transferred socket and where it came from. */
export interface ConnectionTask {
  socket: Socket
  listener: string
  /** `performance.timeOrigin + performance.now()` in the main thread at accept (epoch ms). */
  acceptedAt: number
}
