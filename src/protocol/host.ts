/**
 * What the protocol flows (connect-flow.ts, message-flow.ts) need from the
 * connection they run on: the interface the ConnectionRunner implements, so
 * the flows never import the runner (the pattern of `HandoverHost` in the
 * broker and `ContextOwner` in hook-context.ts).
 */
import type { Logger } from 'pino'
import type { HandlerChain } from '../handlers/chain.ts'
import type { CloseReason, ReasonResult } from '../handlers/types.ts'
import type { WorkerMetrics } from '../metrics/worker-metrics.ts'
import type { ConnectionState } from './connection-state.ts'
import type { ConnectionContext } from './hook-context.ts'
import type { InboundFlow } from './inbound-flow.ts'

/** The server limits a connection runs under (config `limits`). */
export interface RunnerLimits {
  maxPacketSize: number
  connectTimeoutMs: number
  maxKeepaliveSeconds: number
  receiveMaximum: number
  topicAliasMaximum: number
  /** Graceful close after a final packet: see connection/linger.ts. */
  lingerMs: number
  maxLingering: number
}

/** A packet the framework writes: a command and its mqtt-packet fields. */
export type OutgoingPacket = Record<string, unknown> & { cmd: string }

export interface ProtocolHost {
  readonly ctx: ConnectionContext
  readonly chain: HandlerChain
  readonly limits: RunnerLimits
  readonly metrics: WorkerMetrics
  /** A handler answers CONNECT, PUBLISH, PUBREL, SUBSCRIBE, UNSUBSCRIBE and PINGREQ itself (Handler.manualAcks). */
  readonly manualAcks: boolean
  readonly state: ConnectionState
  /** Inbound QoS 1/2 and topic-alias bookkeeping. */
  readonly flow: InboundFlow
  /** Whether the client speaks MQTT 5 (known once CONNECT arrived). */
  readonly v5: boolean
  /** The worker's logger, for the lines that name the connection themselves (connect, close). */
  readonly rootLog: Logger
  /** Debug lines are on (subscribe, unsubscribe): checked before any is built. */
  readonly logDebug: boolean
  /** Writes a framework packet; counts it. */
  write(packet: OutgoingPacket, cb?: (err?: Error | null) => void): boolean
  /** Writes an acknowledgement, unless a handler sends its own (manualAcks). */
  ack(packet: OutgoingPacket): void
  /** Sends an acknowledgement once `wait` resolved, after every acknowledgement before it. */
  ackWhen<T>(wait: Promise<T>, send: (value: T) => void, label?: string): void
  /** Acknowledgements that wait for their `ackWhen` promise, or queue behind one that waits. */
  readonly pendingAcks: number
  /** Resolves when no acknowledgement waits. */
  acksSent(): Promise<void>
  /** Writes the last packet of the connection, then closes it gracefully (connection/linger.ts). */
  writeFinal(packet: OutgoingPacket): void
  /** Ends the connection with `result` (DISCONNECT, or a failing CONNACK before CONNACK). */
  disconnectWith(result: ReasonResult, reason: CloseReason): void
  /** Ends the connection for a protocol error (0x82). */
  protocolError(what: string): void
  /** Stops processing and destroys the connection. */
  terminate(reason: CloseReason): void
  clearConnectTimer(): void
  armKeepalive(): void
}
