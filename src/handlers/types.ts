/**
 * The handler-module contract: what a module named in the config's
 * `handlers:` list exports, and what each hook receives.
 *
 * Hooks run inside worker threads, in config order. Each may return nothing
 * (go on with the next handler), `{ stop: true }` (skip the handlers after
 * it), or a {@link ReasonResult}: a code >= 0x80 refuses and stops the chain;
 * a code < 0x80 sets the acknowledgement's reason code (e.g. 0x10 "No
 * matching subscribers") and the chain goes on.
 *
 * Division of labour between the framework and handlers:
 * - The framework owns every protocol duty that does not need application
 *   state: CONNECT first and within connectTimeout, no second CONNECT, keepalive
 *   at 1.5x, PINGRESP, max packet size in, client-id rules, inbound topic-alias
 *   resolution, the inbound QoS 1/2 flow (PUBACK/PUBREC after the onPublish
 *   chain, PUBCOMP on PUBREL, onPublish not run again for a QoS 2 packet id
 *   still awaiting PUBREL), inbound receive maximum, the topic rules (no
 *   wildcards in a PUBLISH or Will topic name, SUBSCRIBE/UNSUBSCRIBE filters
 *   refused 0x8F/0x80 before any hook, no No Local on a shared subscription),
 *   and v5 reason codes on every refusal it makes.
 * - Handlers own application state: sessions, subscriptions, routing, retained
 *   and will messages, outbound QoS 1/2 (packet ids, in-flight windows,
 *   redelivery; the client's PUBACK/PUBREC/PUBCOMP arrive through onAck, and
 *   the handler sends PUBREL itself), outbound topic aliases.
 */
import type { PeerCertificate } from 'node:tls'
import type {
  IAuthPacket,
  IConnectPacket,
  IDisconnectPacket,
  IPingreqPacket,
  IPubackPacket,
  IPubcompPacket,
  IPublishPacket,
  IPubrecPacket,
  IPubrelPacket,
  ISubscribePacket,
  IUnsubscribePacket,
  Packet,
} from 'mqtt-packet'
import type { Logger } from 'pino'
import type { Registry } from 'prom-client'
import type { Connection } from '../connection/connection.ts'
import type { ProtocolVersion } from '../connection/types.ts'

/** How the client reached the server. */
export type Transport = 'tcp' | 'tls' | 'ws' | 'wss'

/** MQTT protocol level: 3 = 3.1, 4 = 3.1.1, 5 = 5.0 (the codec's; here for handler authors). */
export type { ProtocolVersion }

/** A reason code for the acknowledgement or refusal, with an optional reason string (v5 only). */
export interface ReasonResult {
  reasonCode: number
  reasonString?: string
  /** Skip the handlers after this one (implied when reasonCode >= 0x80). */
  stop?: boolean
}

/** What a hook may return. `undefined`: go on with the next handler. */
export type HookResult = undefined | { stop: true } | ReasonResult

/** A hook may be sync or async. */
export type Awaitable<T> = T | Promise<T>

/** Ask the client for another step of MQTT 5 enhanced authentication (AUTH 0x18). */
export interface ContinueAuth {
  continueAuth: { authenticationMethod: string; authenticationData?: Buffer }
}

/** Why a connection closed, as given to `onClose`. */
export type CloseReason =
  | 'client-disconnect' // DISCONNECT received (see `disconnect` for its reason code)
  | 'socket-closed' // the peer went away without DISCONNECT
  | 'socket-error'
  | 'protocol-error' // malformed packet, oversize packet, broken MQTT rule
  | 'connect-timeout' // no CONNECT within limits.connectTimeoutMs [3.1.1 MQTT-3.1.0-1] [5.0 MQTT-3.1.0-1]
  | 'keepalive-timeout' // nothing received for 1.5 × keepalive [3.1.1 MQTT-3.1.2-24] [5.0 MQTT-3.1.2-22]
  | 'connect-refused' // CONNACK with a failure code was sent
  | 'hook-error' // a hook threw, rejected or timed out
  | 'server-shutdown' // drain on SIGTERM/SIGINT (v5: DISCONNECT 0x8B)
  | 'administrative' // kicked through the admin API (v5: DISCONNECT 0x98)
  | 'takeover' // another connection took the client id (v5: DISCONNECT 0x8E)
  | 'closed-by-handler' // a handler called ctx.close()

export interface CloseInfo {
  reason: CloseReason
  /** Whether CONNACK 0x00 was sent, i.e. the client was connected. */
  wasConnected: boolean
  /** The DISCONNECT the client sent, when reason is 'client-disconnect'. */
  disconnect?: IDisconnectPacket
  error?: Error
}

/** State and tools the framework gives every hook of one connection. */
export interface HookContext {
  /** Unique in the process: `<workerId>-<sequence>`. */
  readonly id: string
  /** The client identifier; a handler may assign one in `onConnect` (v5 empty id). */
  clientId: string
  readonly transport: Transport
  /** The `name` of the listener the client connected to. */
  readonly listener: string
  readonly remoteAddress: string | undefined
  readonly remotePort: number | undefined
  /** The client's TLS certificate, when the listener asked for one and it was sent. */
  readonly peerCertificate: PeerCertificate | null
  /** Set from CONNECT; 4 until CONNECT arrives. */
  readonly protocolVersion: ProtocolVersion
  /** The CONNECT packet, once received. */
  readonly connectPacket: IConnectPacket | undefined
  /** `threadId` of the worker thread running this connection. */
  readonly workerId: number
  /** Per-connection scratch space shared by all handlers. */
  readonly state: Record<string, unknown>
  /** Logger bound to this connection (connection id, client id, remote address). */
  readonly log: Logger
  /** The raw Connection, for handlers that want mqtt-connection's event style. */
  readonly connection: Connection
  /** The worker's metrics registry; metrics registered here are aggregated across workers. */
  readonly metrics: Registry
  /**
   * Sends a packet, honouring backpressure (resolves when written or queued
   * within the high-water mark). A packet larger than the client's v5
   * Maximum Packet Size is not sent and resolves `false` [5.0 MQTT-3.1.2-24].
   */
  send(packet: Packet): Promise<boolean>
  /**
   * Closes this connection. v5 clients first get DISCONNECT with `reasonCode`
   * (default 0x00); v3 clients are just closed.
   */
  close(reasonCode?: number, reasonString?: string, reason?: CloseReason): void
}

/** Context of `onConnect` / `onAuth` during the handshake: shapes the CONNACK. */
export interface ConnectContext extends HookContext {
  readonly connack: {
    sessionPresent: boolean
    /** v5 CONNACK properties (assignedClientIdentifier, serverKeepAlive, …). */
    properties: Record<string, unknown>
  }
  /**
   * QoS 2 packet ids of the resumed session that are still awaiting PUBREL:
   * their PUBREC was sent on an earlier connection (or before a restart). A
   * handler that keeps sessions (the broker, from its store) adds them in
   * `onConnect`; when the CONNACK says Session Present, the framework then
   * acknowledges a re-sent PUBLISH with such an id without running
   * `onPublish` again [3.1.1 MQTT-4.3.3-2] [5.0 MQTT-4.3.3-10] and answers its PUBREL
   * with PUBCOMP 0x00.
   */
  readonly awaitingRelease: Set<number>
}

/** Once per worker thread, before any connection: for handlers with shared state (the broker). */
export interface WorkerContext {
  /** The worker's `threadId`; also the `workerId` of its connections' contexts. */
  readonly workerId: number
  readonly workerCount: number
  /** Id of this server instance, shared by its workers: names per-instance BroadcastChannels. */
  readonly instanceId: string
  readonly log: Logger
  readonly metrics: Registry
  /** The handler's `options` from the config, `{}` when none. */
  readonly options: Record<string, unknown>
  /**
   * The server's `limits` config with its defaults filled in (docs/configuration.md: `maxPacketSize`,
   * `maxSubscriptionsPerClient`, `maxTopicLength`, …); absent when a handler runs outside a server.
   */
  readonly limits?: Readonly<Record<string, number>>
}

/** The hooks a handler may implement. All are optional. */
export interface Handler {
  /** Name used in logs and metrics; defaults to the module's file name. */
  name?: string
  /**
   * For code written for mqtt-connection, which acknowledges packets itself
   * (`client.connack(…)`, `client.puback(…)`, `client.suback(…)`,
   * `client.pingresp()` in its `setup` listeners): when any loaded handler
   * sets this, the framework sends no CONNACK, PUBACK, PUBREC, PUBCOMP,
   * SUBACK, UNSUBACK or PINGRESP of its own, on every connection, so nothing
   * is answered twice. A refused CONNECT (a hook's code >= 0x80) is then closed
   * without a CONNACK. The framework still enforces CONNECT first and within
   * connectTimeout, keepalive, the maximum packet size, the inbound QoS 2
   * bookkeeping, and still runs every handler's hooks in order; it still sends
   * DISCONNECT (v5) and AUTH. Default false.
   */
  manualAcks?: boolean
  /** Called once per worker thread when the module is loaded. */
  init?(worker: WorkerContext): Awaitable<void>
  /** Called when the worker drains (shutdown); connections are still open. */
  shutdown?(worker: WorkerContext): Awaitable<void>
  /** Called when a connection starts, before any packet is read. */
  setup?(connection: Connection, ctx: HookContext): Awaitable<void>
  /** CONNECT received and passed the framework's checks; refuse with a reason code >= 0x80. */
  onConnect?(ctx: ConnectContext, packet: IConnectPacket): Awaitable<HookResult | ContinueAuth>
  /** AUTH received: during CONNECT (after a ContinueAuth) or re-authentication (v5). */
  onAuth?(ctx: ConnectContext, packet: IAuthPacket): Awaitable<HookResult | ContinueAuth>
  /** CONNACK 0x00 was written: deliver queued messages, register the session. */
  onConnected?(ctx: HookContext): Awaitable<void>
  /**
   * PUBLISH received (topic alias already resolved). The packet may be changed
   * in place. QoS 1/2 acknowledgements carry the chain's outcome.
   */
  onPublish?(ctx: HookContext, packet: IPublishPacket): Awaitable<HookResult>
  /**
   * SUBSCRIBE received. `granted[i]` starts as the requested QoS of filter i;
   * set it lower, or to a failure code (0x80, 0x87, …), to refuse filter i.
   */
  onSubscribe?(ctx: HookContext, packet: ISubscribePacket, granted: number[]): Awaitable<HookResult>
  /** SUBACK was written with `granted`: send retained messages now. */
  onSubscribed?(ctx: HookContext, packet: ISubscribePacket, granted: readonly number[]): Awaitable<void>
  /** UNSUBSCRIBE received; `reasonCodes[i]` starts 0x00 (v5 may set 0x11 "No subscription existed"). */
  onUnsubscribe?(ctx: HookContext, packet: IUnsubscribePacket, reasonCodes: number[]): Awaitable<HookResult>
  /** PUBACK, PUBREC or PUBCOMP from the client, for QoS 1/2 messages the server sent. */
  onAck?(ctx: HookContext, packet: IPubackPacket | IPubrecPacket | IPubcompPacket): Awaitable<void>
  /**
   * PUBREL received for a QoS 2 message from the client whose PUBREC was
   * sent: its packet id is free again. PUBCOMP is sent once every handler's
   * hook resolved, so a handler keeping the id in a store can commit its
   * removal first (the client may reuse the id as soon as it has PUBCOMP).
   */
  onRelease?(ctx: HookContext, packet: IPubrelPacket): Awaitable<void>
  /** PINGREQ received; the framework answers PINGRESP whatever the hook does. */
  onPing?(ctx: HookContext, packet: IPingreqPacket): Awaitable<void>
  /** DISCONNECT received. */
  onDisconnect?(ctx: HookContext, packet: IDisconnectPacket): Awaitable<void>
  /** The connection closed, for whatever reason. Called exactly once per connection that ran `setup`. */
  onClose?(ctx: HookContext, info: CloseInfo): Awaitable<void>
  /** An error on this connection (parse error, socket error, another hook's failure). */
  onError?(ctx: HookContext, error: Error): Awaitable<void>
}

/** What a handler module's default export may be: a handler, or a factory taking the config's options. */
export type HandlerFactory = (options: Record<string, unknown>, worker: WorkerContext) => Awaitable<Handler>
export type HandlerDefinition = Handler | HandlerFactory

/** The names of the hooks, in the order a connection meets them. */
export const hookNames = [
  'setup',
  'onConnect',
  'onAuth',
  'onConnected',
  'onPublish',
  'onSubscribe',
  'onSubscribed',
  'onUnsubscribe',
  'onAck',
  'onRelease',
  'onPing',
  'onDisconnect',
  'onClose',
  'onError',
] as const satisfies readonly (keyof Handler)[]

export type HookName = (typeof hookNames)[number]
