/**
 * What the main thread gives every worker at start (piscina `workerData`)
 * and with every hand-off. Plain data only: it crosses a thread.
 */
import type { ListenerType, MqttdConfig } from '../config/schema.ts'
import type { HandlerSpec } from '../handlers/loader.ts'
import type { RunnerLimits } from '../protocol/host.ts'
import type { TlsMaterial } from '../transport/tls.ts'
import type { TcpHandle } from '../transport/transferred-socket.ts'

export interface WorkerListener {
  name: string
  type: ListenerType
  /** ws/wss: the URL path. */
  path: string
  /** tls/wss: key, certificate and options, read by the main thread. */
  tls?: TlsMaterial
  /** A PROXY protocol header precedes each connection's bytes. */
  proxyProtocol: boolean
}

export interface WorkerData {
  instanceId: string
  workerCount: number
  baseDir: string
  handlers: HandlerSpec[]
  listeners: WorkerListener[]
  /** The config's limits: the runner's, the hook timeout, and those handlers enforce (the broker's). */
  limits: RunnerLimits & MqttdConfig['limits']
  logLevel: string
  /** Human-readable lines (pino-pretty) instead of JSON. */
  logPretty: boolean
  /** trace: include PUBLISH payloads in the per-packet lines. */
  logPayloads: boolean
  /** Give the heap back to the OS when idle after a burst (memory.trimIdleHeap). */
  trimIdleHeap: boolean
  /** The process's lock around V8 flag changes (heap-trim.ts gcFlagLock), shared memory. */
  gcFlagLock: Int32Array
}

/** One connection of a hand-off: the accepted socket's TCP handle (transferred) and where it came from. */
export interface ConnectionTask {
  handle: TcpHandle
  listener: string
  /** `performance.timeOrigin + performance.now()` in the main thread at accept (epoch ms). */
  acceptedAt: number
  /**
   * proxyProtocol listeners: the per-address rate is on, so the worker asks
   * the main thread about the client address the header gives.
   */
  checkAddress?: boolean
  /** The socket did not inherit TCP_NODELAY from its listening socket: the worker sets it. */
  setNoDelay?: boolean
}

/** A hand-off: the connections one turn's accepts gave one worker (their TCP handles in the transfer list). */
export interface HandoffTask {
  connections: ConnectionTask[]
}
