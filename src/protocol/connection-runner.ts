/**
 * Runs one client connection in a worker: the protocol duties the framework
 * owns (see the top of handlers/types.ts) around the handler chain. This
 * file holds the life cycle (queue, dispatch, keepalive, sending, closing);
 * connect-flow.ts and message-flow.ts handle the packets.
 *
 * Packets are processed one at a time, in arrival order, so an async hook
 * never lets a later PUBLISH overtake an earlier one; while the backlog is
 * long the socket is paused (backpressure towards the client). Timestamps
 * for keepalive are taken on arrival, not on processing.
 */
import type { Duplex } from 'node:stream'
import type { PeerCertificate } from 'node:tls'
import { generate, type Packet as OutPacket } from 'mqtt-packet'
import type { Logger } from 'pino'
import { Connection } from '../connection/connection.ts'
import { lingerClose } from '../connection/linger.ts'
import { fitsPacketSize } from '../connection/packet-size.ts'
import type { DisconnectPacket, Packet } from '../connection/types.ts'
import { MqttdError, mqttdError } from '../errors.ts'
import { type HandlerChain, HookError } from '../handlers/chain.ts'
import type { CloseInfo, CloseReason, ReasonResult, Transport } from '../handlers/types.ts'
import { packetSummary } from '../log/logger.ts'
import type { WorkerMetrics } from '../metrics/worker-metrics.ts'
import { ReasonCode } from '../mqtt/reason-codes.ts'
import { handleAuth, handleConnect, sendConnackFailure } from './connect-flow.ts'
import { ConnectionState, type Phase } from './connection-state.ts'
import { type DeadlineOwner, DeadlineWheel } from './deadline-wheel.ts'
import { ConnectionContext } from './hook-context.ts'
import type { OutgoingPacket, ProtocolHost, RunnerLimits } from './host.ts'
import { InboundFlow } from './inbound-flow.ts'
import {
  handlePublish,
  handlePubrel,
  handleSubscribe,
  handleUnsubscribe,
  noteArrival,
} from './message-flow.ts'
import { OrderedAcks } from './ordered-acks.ts'
import { connackCode } from './reason-codes.ts'
import { refuseMalformedConnect } from './refuse-malformed-connect.ts'

/** Where a connection came from: what a transport hands over once its stream is ready. */
export interface Endpoint {
  stream: Duplex
  transport: Transport
  listener: string
  remoteAddress: string | undefined
  remotePort: number | undefined
  peerCertificate: PeerCertificate | null
}

export interface RunnerOptions extends Endpoint {
  /** The connection's number in its worker (ids are `<workerId>-<seq>`). */
  seq: number
  chain: HandlerChain
  limits: RunnerLimits
  workerId: number
  log: Logger
  metrics: WorkerMetrics
  /** trace: include PUBLISH payloads in the per-packet lines (`log.payloads`). */
  logPayloads?: boolean
  /**
   * Called once, when the connection closed and onClose ran: a module function of the worker,
   * where a `closed.then(...)` per connection would keep a closure and two promises for its life.
   */
  onEnded?: (runner: ConnectionRunner) => void
}

const backlogPause = 64

/** On the Connection a runner made: the runner, for the listeners it shares with every other runner. */
const kRunner = Symbol('mqttd.runner')
type OwnedConnection = Connection & { [kRunner]: ConnectionRunner }

/**
 * The connect and keepalive deadlines of this thread's connections: one interval, no `Timeout` held
 * per connection. A quarter second wide: a deadline fires up to that late.
 */
const deadlines = new DeadlineWheel(250)

export class ConnectionRunner implements ProtocolHost, DeadlineOwner {
  readonly ctx: ConnectionContext
  readonly connection: Connection
  readonly seq: number
  /** When the connection started, epoch ms. */
  readonly connectedSince = Date.now()
  #closed: Promise<CloseInfo> | undefined
  #resolveClosed: ((info: CloseInfo) => void) | undefined
  #closeInfo: CloseInfo | undefined
  readonly #onEnded: ((runner: ConnectionRunner) => void) | undefined
  // Members without `#` below are the ProtocolHost the flows (connect-flow.ts, message-flow.ts) run against
  readonly chain: HandlerChain
  readonly limits: RunnerLimits
  readonly metrics: WorkerMetrics
  #flow: InboundFlow | undefined
  /** A handler answers CONNECT, PUBLISH, PUBREL, SUBSCRIBE, UNSUBSCRIBE and PINGREQ itself (Handler.manualAcks). */
  readonly manualAcks: boolean
  /** Where the connection is in its life and what CONNECT settled; the flows move it on. */
  readonly state = new ConnectionState()
  #closeReason: CloseReason | undefined
  #disconnectPacket: DisconnectPacket | undefined
  /** Packets that arrived while one was being handled; made at the first (most connections never wait). */
  #queue: Packet[] | undefined
  #processing = false
  #paused = false
  /** The deadline wheel's slot this connection waits in (connect, then keepalive); 0: none. */
  #deadline = 0
  #lastActivity = Date.now()
  #destroyTimer: NodeJS.Timeout | undefined
  #finalPending = false
  /** The setup hooks' run, until it settled. */
  #setup: Promise<void> | undefined
  /** Resolves at the next `drain` (or close): what every send waiting for room awaits. */
  #drained: Promise<boolean> | undefined
  /**
   * Acknowledgements in packet order while some wait for a commit (ack-wait.ts); made at the first
   * wait, so a connection that never waits (most idle ones) holds no queue, arrays or closures.
   */
  #acks: OrderedAcks | undefined
  /** Log levels on when the connection started: no child logger is built for a line not written. */
  readonly logDebug: boolean
  /** The worker's logger: the connect and close lines name the connection themselves (no child logger per connection). */
  readonly rootLog: Logger
  readonly #logTrace: boolean
  readonly #logPayloads: boolean

  constructor(options: RunnerOptions) {
    this.seq = options.seq
    this.chain = options.chain
    this.limits = options.limits
    this.metrics = options.metrics
    this.manualAcks = options.chain.manualAcks
    this.logDebug = options.log.isLevelEnabled('debug')
    this.rootLog = options.log
    this.#logTrace = options.log.isLevelEnabled('trace')
    this.#logPayloads = options.logPayloads === true
    this.#onEnded = options.onEnded
    const connection = new Connection(options.stream, { maxPacketSize: options.limits.maxPacketSize })
    this.connection = connection
    // bytes reach the worker's counters at each scrape, with no work per packet
    options.metrics.trackBytes(connection)
    this.ctx = new ConnectionContext(options, connection, options.metrics.registry, this)
    // the runner's own connection points back to it, so the three listeners are shared functions, not
    // three closures (and their context) per connection
    ;(connection as OwnedConnection)[kRunner] = this
    connection.on('data', ConnectionRunner.#onData)
    connection.on('error', ConnectionRunner.#onConnectionError)
    connection.on('close', ConnectionRunner.#onClose)
    // [3.1.1 MQTT-3.1.0-1] [5.0 MQTT-3.1.0-1] CONNECT must come first, within connectTimeoutMs
    this.#deadline = deadlines.add(this, options.limits.connectTimeoutMs)
  }

  // listeners of the Connection (`this` is it): plain functions, where a method would see the class
  static readonly #onData = function (this: Connection, packet: Packet): void {
    ;(this as OwnedConnection)[kRunner].#onPacket(packet)
  }

  static readonly #onConnectionError = function (this: Connection, err: Error): void {
    ;(this as OwnedConnection)[kRunner].#onError(err)
  }

  static readonly #onClose = function (this: Connection): void {
    ;(this as OwnedConnection)[kRunner].#finish()
  }

  /**
   * Resolves once the connection closed and onClose ran. Made when first asked for (a drain, a
   * test): most connections never are, and a promise with its resolver per connection is GC work.
   */
  get closed(): Promise<CloseInfo> {
    if (this.#closed === undefined) {
      const info = this.#closeInfo
      this.#closed =
        info !== undefined
          ? Promise.resolve(info)
          : new Promise((resolve) => {
              this.#resolveClosed = resolve
            })
    }
    return this.#closed
  }

  /** Where the connection is in its life (the registry lists and kicks connected ones only). */
  get phase(): Phase {
    return this.state.phase
  }

  /** Inbound QoS 1/2 and topic-alias bookkeeping, created with the first PUBLISH that needs it. */
  get flow(): InboundFlow {
    this.#flow ??= new InboundFlow(this.limits)
    return this.#flow
  }

  /**
   * Runs the `setup` hooks; call once, right after construction (the
   * Connection reads from the next tick). Packets wait until setup is done.
   */
  start(): Promise<void> {
    if (!this.chain.has('setup')) return Promise.resolve()
    const setup = this.chain
      .notify('setup', this.connection, this.ctx)
      .catch((err: unknown) => this.#hookFailed(err))
      .finally(() => {
        this.#setup = undefined
      })
    this.#setup = setup
    return setup
  }

  /** `ctx.close()`. */
  closeFromHook(reasonCode?: number, reasonString?: string, reason?: CloseReason): void {
    this.close(reasonCode ?? ReasonCode.success, reasonString, reason ?? 'closed-by-handler')
  }

  /** The connect timer fired: no CONNECT within limits.connectTimeoutMs. */
  connectTimedOut(): void {
    this.metrics.connectionRejected(this.ctx.listener, 'connect_timeout')
    this.state.closeError = mqttdError('MQTTD_ERR_CONNECT_TIMEOUT', this.limits.connectTimeoutMs)
    this.terminate('connect-timeout')
  }

  // ---- receiving --------------------------------------------------------

  #onPacket(packet: Packet): void {
    this.#lastActivity = Date.now()
    if (this.#logTrace) this.ctx.log.trace({ packet: packetSummary(packet, this.#logPayloads) }, 'packet in')
    this.metrics.packetReceived(packet.cmd)
    if (packet.cmd === 'publish' && packet.qos > 0) noteArrival(this, packet)
    if (!this.#processing && this.#setup === undefined) {
      // nothing waits: handled now, through no queue (what follows it in this turn queues behind it)
      this.#processing = true
      const pending = this.#handleNow(packet)
      if (pending !== undefined) void this.#drainAfter(pending)
      else this.#drainQueue()
      return
    }
    this.#queue ??= []
    const queue = this.#queue
    queue.push(packet)
    if (queue.length >= backlogPause && !this.#paused) {
      this.#paused = true
      this.connection.stream.pause()
    }
    if (!this.#processing) this.#drainQueue()
  }

  /**
   * Handles the queued packets in this turn for as long as each is handled at once (CONNECT and
   * PINGREQ with hooks that answer synchronously); the first that waits hands the rest to
   * {@link #drainAfter}. No promise or async frame for a packet that needs none: most connections
   * are a CONNECT, some PINGREQs and a close.
   */
  #drainQueue(): void {
    this.#processing = true
    if (this.#setup !== undefined) {
      void this.#drainAfter(this.#setup)
      return
    }
    while (this.state.phase !== 'closed') {
      const packet = this.#queue?.shift()
      if (packet === undefined) break
      const pending = this.#handleNow(packet)
      if (pending !== undefined) {
        void this.#drainAfter(pending)
        return
      }
      this.#resumeWhenShort()
    }
    this.#processing = false
  }

  /** {@link #handle}, with a hook's synchronous failure handled. */
  #handleNow(packet: Packet): void | Promise<void> {
    try {
      return this.#handle(packet)
    } catch (err) {
      this.#hookFailed(err)
    }
  }

  /** The rest of {@link #drainQueue} once `pending` (a packet's handling, or setup) settled. */
  async #drainAfter(pending: Promise<void>): Promise<void> {
    try {
      await pending
    } catch (err) {
      this.#hookFailed(err)
    }
    this.#resumeWhenShort()
    while (this.state.phase !== 'closed') {
      const packet = this.#queue?.shift()
      if (packet === undefined) break
      try {
        await this.#handle(packet)
      } catch (err) {
        this.#hookFailed(err)
      }
      this.#resumeWhenShort()
    }
    this.#processing = false
  }

  #resumeWhenShort(): void {
    if (this.#paused && (this.#queue?.length ?? 0) < backlogPause / 2) {
      this.#paused = false
      this.connection.stream.resume()
    }
  }

  /** Handles one packet: `undefined` when it is done, else a promise of its end. */
  #handle(packet: Packet): void | Promise<void> {
    if (this.state.ending) return
    if (this.state.phase === 'awaiting-connect') {
      if (packet.cmd !== 'connect') return this.protocolError(`${packet.cmd} before CONNECT`) // [3.1.1 MQTT-3.1.0-1] [5.0 MQTT-3.1.0-1]
      return handleConnect(this, packet)
    }
    if (packet.cmd === 'connect') return this.protocolError('second CONNECT') // [3.1.1 MQTT-3.1.0-2] [5.0 MQTT-3.1.0-2]
    if (this.state.phase === 'authenticating' && packet.cmd !== 'auth' && packet.cmd !== 'disconnect') {
      return this.protocolError(`${packet.cmd} during enhanced authentication`)
    }
    switch (packet.cmd) {
      case 'publish':
        return handlePublish(this, packet)
      case 'pubrel':
        return handlePubrel(this, packet)
      case 'puback':
      case 'pubrec':
      case 'pubcomp':
        return this.chain.notifyNow('onAck', this.ctx, packet)
      case 'subscribe':
        return handleSubscribe(this, packet)
      case 'unsubscribe':
        return handleUnsubscribe(this, packet)
      case 'pingreq':
        this.ack({ cmd: 'pingresp' }) // [3.1.1 MQTT-3.12.4-1] [5.0 MQTT-3.12.4-1]
        return this.chain.notifyNow('onPing', this.ctx, packet)
      case 'disconnect':
        return this.#handleDisconnect(packet)
      case 'auth':
        return handleAuth(this, packet)
      default:
        return this.protocolError(`unexpected ${packet.cmd} from a client`)
    }
  }

  #handleDisconnect(packet: DisconnectPacket): void | Promise<void> {
    // what was published before DISCONNECT is acknowledged first, as when each PUBLISH was awaited
    if (this.#acks !== undefined && this.#acks.size > 0)
      return this.#acks.idle().then(() => this.#disconnected(packet))
    return this.#disconnected(packet)
  }

  #disconnected(packet: DisconnectPacket): void | Promise<void> {
    this.#disconnectPacket = packet
    const told = this.chain.notifyNow('onDisconnect', this.ctx, packet)
    if (told === undefined) return this.terminate('client-disconnect')
    return told.then(() => this.terminate('client-disconnect'))
  }

  /** Whether the client speaks MQTT 5 (known once CONNECT arrived). */
  get v5(): boolean {
    return this.ctx.protocolVersion === 5
  }

  clearConnectTimer(): void {
    this.#cancelDeadline()
  }

  #cancelDeadline(): void {
    if (this.#deadline === 0) return
    deadlines.cancel(this, this.#deadline)
    this.#deadline = 0
  }

  /** The wheel's call: no CONNECT in time, or a keepalive to check. */
  deadlineReached(): void {
    this.#deadline = 0
    if (this.state.phase === 'awaiting-connect') this.connectTimedOut()
    else this.checkKeepalive()
  }

  // ---- keepalive --------------------------------------------------------

  armKeepalive(): void {
    if (this.state.keepaliveMs <= 0) return
    this.#deadline = deadlines.add(this, this.state.keepaliveMs * 1.5)
  }

  /** The keepalive timer fired: closes after 1.5 × keepalive without a packet, else waits for the rest. */
  checkKeepalive(): void {
    const limit = this.state.keepaliveMs * 1.5 // [3.1.1 MQTT-3.1.2-24] [5.0 MQTT-3.1.2-22]
    const idle = Date.now() - this.#lastActivity
    if (idle >= limit) {
      this.state.closeError = mqttdError('MQTTD_ERR_KEEPALIVE_TIMEOUT', this.state.keepaliveMs / 1000)
      this.disconnectWith({ reasonCode: ReasonCode.keepAliveTimeout }, 'keepalive-timeout')
    } else {
      this.#deadline = deadlines.add(this, limit - idle)
    }
  }

  // ---- sending ----------------------------------------------------------

  /** Writes a framework packet; counts it. */
  write(packet: OutgoingPacket, cb?: (err?: Error | null) => void): boolean {
    if (packet.properties === undefined) delete packet.properties
    const cmd = packet.cmd as keyof Connection & 'connack'
    const send = this.connection[cmd] as (p: unknown, cb?: (err?: Error | null) => void) => boolean
    const ok = send.call(this.connection, packet, cb)
    this.metrics.packetSent(packet.cmd)
    if (this.#logTrace) this.ctx.log.trace({ packet: packetSummary(packet, this.#logPayloads) }, 'packet out')
    return ok
  }

  /** Writes an acknowledgement, unless a handler sends its own ({@link manualAcks}). */
  ack(packet: OutgoingPacket): void {
    if (this.manualAcks) return
    if (this.#acks?.holding === true) this.#acks.push(() => this.write(packet))
    else this.write(packet)
  }

  /** Sends an acknowledgement once `wait` resolved and those before it are out. */
  ackWhen<T>(wait: Promise<T>, send: (value: T) => void, label?: string): void {
    this.#acks ??= this.#orderedAcks()
    this.#acks.defer(wait, send, label)
  }

  #orderedAcks(): OrderedAcks {
    const timeoutMs = this.chain.timeoutMs
    return new OrderedAcks(
      (err) => this.#hookFailed(err),
      timeoutMs,
      // a commit or a peer's confirmation that never came: as a hook that never settled
      (handler) => this.#hookFailed(mqttdError('MQTTD_ERR_HOOK_TIMEOUT', 'onPublish', handler, timeoutMs)),
    )
  }

  /** Acknowledgements that wait (or queue behind one that waits). */
  get pendingAcks(): number {
    return this.#acks?.size ?? 0
  }

  /** Resolves when no acknowledgement waits. */
  acksSent(): Promise<void> {
    return this.#acks?.idle() ?? Promise.resolve()
  }

  /**
   * `ctx.send`: writes a handler's packet, waiting for `drain` when the
   * stream is full. Never sends more than the client's v5 Maximum Packet Size [5.0 MQTT-3.1.2-24].
   */
  async send(packet: OutPacket): Promise<boolean> {
    if (this.state.ending || this.connection.destroyed) return false
    if (this.state.maxOutgoingPacket > 0) {
      // a PUBLISH is sized by counting (generated only near the limit); other packets are small and rare
      const fits =
        packet.cmd === 'publish'
          ? fitsPacketSize(packet, 5, this.state.maxOutgoingPacket)
          : generate(packet, { protocolVersion: 5 }).length <= this.state.maxOutgoingPacket
      if (!fits) {
        this.metrics.messageDropped('packet_too_large')
        return false
      }
    }
    const ok = this.write(packet as unknown as OutgoingPacket)
    if (packet.cmd === 'publish') this.metrics.messageSent(packet.qos ?? 0)
    if (ok) return true
    // One waiter for every send pending on this drain: a listener pair per send would pass the
    // EventEmitter limit (MaxListenersExceededWarning) and make each removal O(pending)
    this.#drained ??= new Promise((resolve) => {
      const done = () => {
        this.connection.off('drain', done)
        this.connection.off('close', done)
        this.#drained = undefined
        resolve(!this.connection.destroyed)
      }
      this.connection.on('drain', done)
      this.connection.on('close', done)
    })
    return this.#drained
  }

  // ---- closing ----------------------------------------------------------

  /**
   * Closes the connection: v5 clients first get DISCONNECT `reasonCode`
   * (CONNACK with it when CONNACK is not sent yet), 3.x clients are closed.
   */
  close(reasonCode: number, reasonString: string | undefined, reason: CloseReason): void {
    const result: ReasonResult = reasonString === undefined ? { reasonCode } : { reasonCode, reasonString }
    this.disconnectWith(result, reason)
  }

  disconnectWith(result: ReasonResult, reason: CloseReason): void {
    if (this.state.ending) return
    if (this.v5 && this.ctx.connectPacket !== undefined) {
      if (this.state.connackSent) {
        const properties =
          result.reasonString === undefined ? undefined : { reasonString: result.reasonString }
        this.writeFinal({ cmd: 'disconnect', reasonCode: result.reasonCode, properties })
      } else if (result.reasonCode >= 0x80) {
        // no DISCONNECT before CONNACK [5.0 MQTT-3.14.0-1]; CONNACK has no code for some DISCONNECT reasons
        sendConnackFailure(this, { ...result, reasonCode: connackCode(result.reasonCode) })
      }
    } else if (!this.state.connackSent && this.ctx.connectPacket !== undefined && result.reasonCode >= 0x80) {
      sendConnackFailure(this, result)
    }
    this.terminate(reason)
  }

  protocolError(what: string): void {
    this.state.closeError = mqttdError('MQTTD_ERR_PROTOCOL_ERROR', what)
    if (!this.state.wasConnected) this.metrics.connectionRejected(this.ctx.listener, 'protocol_error')
    this.disconnectWith({ reasonCode: ReasonCode.protocolError }, 'protocol-error')
  }

  /**
   * Stops processing and destroys the connection: at once, or once the
   * final packet (`#finalPacket`) reached the socket, or after 1 s. A
   * transferred socket must be destroyed, never only ended (it would leak).
   */
  terminate(reason: CloseReason): void {
    if (this.state.ending) return
    this.state.phase = 'closing'
    this.#closeReason ??= reason
    this.#clearTimers()
    if (this.#queue !== undefined) this.#queue.length = 0
    const connection = this.connection
    if (connection.destroyed) return
    if (!this.#finalPending) {
      connection.destroy()
      return
    }
    this.#destroyTimer = setTimeout(() => connection.destroy(), 1000)
    this.#destroyTimer.unref()
  }

  /**
   * Writes the last packet of the connection (CONNACK refusal, DISCONNECT)
   * and closes: the socket lingers so the client reads it (see linger.ts).
   */
  writeFinal(packet: OutgoingPacket): void {
    this.#finalPending = true
    this.write(packet)
    if (!this.connection.destroyed) lingerClose(this.connection.release(), this.limits)
  }

  #onError(err: Error): void {
    if (this.state.phase === 'closed') return
    const coded = err instanceof MqttdError
    this.state.closeError = err
    if (coded && err.reasonCode !== undefined) {
      // parse errors: the Connection destroys itself right after this event; what is written now is flushed first
      if (!this.state.wasConnected) this.metrics.connectionRejected(this.ctx.listener, 'protocol_error')
      if (err.code === 'MQTTD_ERR_PACKET_TOO_LARGE') this.metrics.messageDropped('packet_too_large')
      if (!refuseMalformedConnect(this, this.connection, err))
        this.disconnectWith({ reasonCode: err.reasonCode }, 'protocol-error')
      else this.terminate('protocol-error')
    } else {
      this.#closeReason ??= coded ? 'protocol-error' : 'socket-error'
      this.terminate(this.#closeReason)
    }
    void this.chain.notifyAll('onError', this.ctx, err).then((failures) => this.#logFailures(failures))
  }

  #hookFailed(err: unknown): void {
    const error = err instanceof Error ? err : new Error(String(err))
    if (err instanceof HookError)
      this.ctx.log.error({ err, hook: err.hook, handler: err.handler }, err.message)
    else this.ctx.log.error({ err }, 'connection failed')
    if (this.state.ending) return
    this.state.closeError = error
    this.disconnectWith({ reasonCode: ReasonCode.implementationSpecificError }, 'hook-error')
    void this.chain.notifyAll('onError', this.ctx, error).then((failures) => this.#logFailures(failures))
  }

  #logFailures(failures: readonly HookError[]): void {
    for (const f of failures) this.ctx.log.error({ err: f, hook: f.hook, handler: f.handler }, f.message)
  }

  /**
   * One line per close: `info` once a CONNECT arrived, `debug` before (port
   * probes and scanners would flood the log otherwise). Its fields are built
   * only when the line is written.
   */
  #logClose(info: CloseInfo): void {
    const connected = this.ctx.connectPacket !== undefined
    if (connected ? !this.rootLog.isLevelEnabled('info') : !this.logDebug) return
    const error = info.error as { code?: string; message?: string; reasonCode?: number } | undefined
    const ctx = this.ctx
    const fields: Record<string, unknown> = {
      conn: ctx.id,
      clientId: ctx.clientId || undefined,
      remote: ctx.remoteAddress,
      listener: ctx.listener,
      reason: info.reason,
      wasConnected: info.wasConnected,
      durationMs: Date.now() - this.connectedSince,
      bytesIn: this.connection.bytesReceived,
      bytesOut: this.connection.bytesSent,
    }
    const reasonCode = info.disconnect?.reasonCode ?? error?.reasonCode
    if (reasonCode !== undefined) fields.reasonCode = reasonCode
    if (error !== undefined) fields.error = { code: error.code, message: error.message }
    if (connected) this.rootLog.info(fields, 'client closed')
    else this.rootLog.debug(fields, 'connection closed before CONNECT')
  }

  #clearTimers(): void {
    this.#cancelDeadline()
    this.#acks?.close()
  }

  /** The connection closed: onClose, then the close is told (closed, onEnded); in this turn unless a hook waits. */
  #finish(): void {
    if (this.state.phase === 'closed') return
    this.state.phase = 'closed'
    this.#clearTimers()
    clearTimeout(this.#destroyTimer)
    if (this.#queue !== undefined) this.#queue.length = 0
    this.metrics.untrackBytes(this.connection)
    const info: CloseInfo = {
      reason: this.#closeReason ?? 'socket-closed',
      wasConnected: this.state.wasConnected,
    }
    if (this.#disconnectPacket !== undefined) info.disconnect = this.#disconnectPacket
    if (this.state.closeError !== undefined) info.error = this.state.closeError
    this.#logClose(info)
    if (!this.chain.has('onClose')) {
      this.#ended(info)
      return
    }
    // notifyAll never rejects: failures come back as values
    const failures = this.chain.notifyAllNow('onClose', this.ctx, info)
    if (failures instanceof Promise) {
      void failures.then((list) => {
        this.#logFailures(list)
        this.#ended(info)
      })
    } else {
      this.#logFailures(failures)
      this.#ended(info)
    }
  }

  #ended(info: CloseInfo): void {
    this.#closeInfo = info
    this.#resolveClosed?.(info)
    try {
      this.#onEnded?.(this)
    } catch (err) {
      this.rootLog.error({ err, id: this.ctx.id }, 'connection end bookkeeping failed')
    }
  }
}
