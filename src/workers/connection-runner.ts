/**
 * Runs one client connection in a worker: the protocol duties the framework
 * owns (see the top of handlers/types.ts) around the handler chain.
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
import type {
  AuthPacket,
  ConnectPacket,
  DisconnectPacket,
  Packet,
  PublishPacket,
  SubscribePacket,
  UnsubscribePacket,
} from '../connection/types.ts'
import { MqttdError, mqttdError } from '../errors.ts'
import { type ChainOutcome, type HandlerChain, HookError } from '../handlers/chain.ts'
import type { CloseInfo, CloseReason, ProtocolVersion, ReasonResult, Transport } from '../handlers/types.ts'
import type { WorkerMetrics } from '../metrics/worker-metrics.ts'
import { ConnectionContext } from './hook-context.ts'
import { InboundFlow } from './inbound-flow.ts'
import { connackCode, Reason, v3ConnackCode } from './reason-codes.ts'

export interface RunnerLimits {
  maxPacketSize: number
  connectTimeoutMs: number
  maxKeepaliveSeconds: number
  receiveMaximum: number
  topicAliasMaximum: number
}

export interface RunnerOptions {
  id: string
  stream: Duplex
  transport: Transport
  listener: string
  remoteAddress: string | undefined
  remotePort: number | undefined
  peerCertificate: PeerCertificate | null
  chain: HandlerChain
  limits: RunnerLimits
  workerId: number
  log: Logger
  metrics: WorkerMetrics
}

type State = 'awaiting-connect' | 'connecting' | 'authenticating' | 'connected' | 'closing' | 'closed'

const backlogPause = 64
// PUBLISH packets that arrived beyond the Receive Maximum; packets are unique objects, so one set serves all connections
const overLimit = new WeakSet<Packet>()
let assignedIds = 0

export class ConnectionRunner {
  readonly ctx: ConnectionContext
  readonly connection: Connection
  readonly connectedSince = new Date()
  /** Resolves once the connection closed and onClose ran. */
  readonly closed: Promise<CloseInfo>
  #resolveClosed!: (info: CloseInfo) => void
  readonly #chain: HandlerChain
  readonly #limits: RunnerLimits
  readonly #metrics: WorkerMetrics
  readonly #flow: InboundFlow
  #state: State = 'awaiting-connect'
  #wasConnected = false
  #connackSent = false
  #closeReason: CloseReason | undefined
  #closeError: Error | undefined
  #disconnectPacket: DisconnectPacket | undefined
  #queue: Packet[] = []
  #processing = false
  #paused = false
  #connectTimer: NodeJS.Timeout | undefined
  #keepaliveTimer: NodeJS.Timeout | undefined
  #keepaliveMs = 0
  #lastActivity = Date.now()
  #maxOutgoingPacket = 0
  #destroyTimer: NodeJS.Timeout | undefined
  #finalPending = false
  #setup: Promise<void> = Promise.resolve()
  #bytesInCounted = 0
  #bytesOutCounted = 0

  constructor(options: RunnerOptions) {
    this.#chain = options.chain
    this.#limits = options.limits
    this.#metrics = options.metrics
    this.#flow = new InboundFlow(options.limits)
    this.closed = new Promise((resolve) => {
      this.#resolveClosed = resolve
    })
    const connection = new Connection(options.stream, { maxPacketSize: options.limits.maxPacketSize })
    this.connection = connection
    this.ctx = new ConnectionContext({
      id: options.id,
      transport: options.transport,
      listener: options.listener,
      remoteAddress: options.remoteAddress,
      remotePort: options.remotePort,
      peerCertificate: options.peerCertificate,
      workerId: options.workerId,
      connection,
      metrics: options.metrics.registry,
      workerLog: options.log,
      actions: {
        send: (packet) => this.send(packet),
        close: (code, text, reason) =>
          this.close(code ?? Reason.success, text, reason ?? 'closed-by-handler'),
      },
    })
    connection.on('data', (packet) => this.#onPacket(packet))
    connection.on('error', (err) => this.#onError(err))
    connection.on('close', () => void this.#finish())
    // [MQTT-3.1.0-1] CONNECT must come first, within connectTimeoutMs
    this.#connectTimer = setTimeout(() => {
      this.#metrics.connectionRejected(this.ctx.listener, 'connect_timeout')
      this.#closeError = mqttdError('MQTTD_ERR_CONNECT_TIMEOUT', this.#limits.connectTimeoutMs)
      this.#terminate('connect-timeout')
    }, options.limits.connectTimeoutMs)
  }

  /**
   * Runs the `setup` hooks; call once, right after construction (the
   * Connection reads from the next tick). Packets wait until setup is done.
   */
  start(): Promise<void> {
    this.#setup = this.#chain
      .notify('setup', this.connection, this.ctx)
      .catch((err: unknown) => this.#hookFailed(err))
    return this.#setup
  }

  get state(): State {
    return this.#state
  }

  // ---- receiving --------------------------------------------------------

  #onPacket(packet: Packet): void {
    this.#lastActivity = Date.now()
    this.#metrics.packetReceived(packet.cmd)
    this.#countBytes()
    if (packet.cmd === 'publish' && packet.qos > 0) {
      // Receive Maximum is judged on arrival: what the client sent before seeing our acknowledgements
      this.#flow.arrived()
      const resend = packet.qos === 2 && this.#flow.isDuplicate(packet.messageId!)
      if (!resend && this.#flow.exceeded()) overLimit.add(packet)
    }
    this.#queue.push(packet)
    if (this.#queue.length >= backlogPause && !this.#paused) {
      this.#paused = true
      this.connection.stream.pause()
    }
    if (!this.#processing) void this.#drainQueue()
  }

  async #drainQueue(): Promise<void> {
    this.#processing = true
    await this.#setup
    while (this.#queue.length > 0 && this.#state !== 'closed') {
      const packet = this.#queue.shift()!
      try {
        await this.#handle(packet)
      } catch (err) {
        this.#hookFailed(err)
      }
      if (this.#paused && this.#queue.length < backlogPause / 2) {
        this.#paused = false
        this.connection.stream.resume()
      }
    }
    this.#processing = false
  }

  async #handle(packet: Packet): Promise<void> {
    if (this.#state === 'closing' || this.#state === 'closed') return
    if (this.#state === 'awaiting-connect') {
      if (packet.cmd !== 'connect') return this.#protocolError(`${packet.cmd} before CONNECT`) // [MQTT-3.1.0-1]
      return this.#onConnect(packet)
    }
    if (packet.cmd === 'connect') return this.#protocolError('second CONNECT') // [MQTT-3.1.0-2]
    if (this.#state === 'authenticating' && packet.cmd !== 'auth' && packet.cmd !== 'disconnect') {
      return this.#protocolError(`${packet.cmd} during enhanced authentication`)
    }
    switch (packet.cmd) {
      case 'publish':
        return this.#onPublish(packet)
      case 'pubrel': {
        // [MQTT-4.3.3-10] PUBCOMP for a released id; 0x92 when it was not awaiting release
        const known = this.#flow.released(packet.messageId!)
        this.#write({
          cmd: 'pubcomp',
          messageId: packet.messageId,
          ...(this.#v5 && !known ? { reasonCode: Reason.packetIdNotFound } : {}),
        })
        return
      }
      case 'puback':
      case 'pubrec':
      case 'pubcomp':
        return this.#chain.notify('onAck', this.ctx, packet)
      case 'subscribe':
        return this.#onSubscribe(packet)
      case 'unsubscribe':
        return this.#onUnsubscribe(packet)
      case 'pingreq':
        this.#write({ cmd: 'pingresp' }) // [MQTT-3.12.4-1]
        return this.#chain.notify('onPing', this.ctx, packet)
      case 'disconnect':
        this.#disconnectPacket = packet
        await this.#chain.notify('onDisconnect', this.ctx, packet)
        return this.#terminate('client-disconnect')
      case 'auth':
        return this.#onAuth(packet)
      default:
        return this.#protocolError(`unexpected ${packet.cmd} from a client`)
    }
  }

  // ---- CONNECT and authentication ---------------------------------------

  get #v5(): boolean {
    return this.ctx.protocolVersion === 5
  }

  async #onConnect(packet: ConnectPacket): Promise<void> {
    clearTimeout(this.#connectTimer)
    this.#connectTimer = undefined
    const ctx = this.ctx
    ctx.protocolVersion = packet.protocolVersion as ProtocolVersion
    ctx.connectPacket = packet
    ctx.clientId = packet.clientId
    this.#state = 'connecting'
    const props = packet.properties
    if (this.#v5 && props?.maximumPacketSize !== undefined) this.#maxOutgoingPacket = props.maximumPacketSize

    if (packet.clientId === '') {
      // [MQTT-3.1.3-8] 3.1.1: an empty client id needs CleanSession=1; 3.1 has no empty ids at all
      if (ctx.protocolVersion === 3 || (ctx.protocolVersion === 4 && !packet.clean)) {
        return this.#refuse({ reasonCode: Reason.clientIdNotValid })
      }
      // [MQTT-3.1.3-6] the server assigns a unique id; v5 tells the client [MQTT-3.2.2-16]
      ctx.clientId = `mqttd-${ctx.workerId}-${Date.now().toString(36)}-${(++assignedIds).toString(36)}`
      if (this.#v5) ctx.connack.properties.assignedClientIdentifier = ctx.clientId
    }
    this.#keepaliveMs = packet.keepalive * 1000
    const cap = this.#limits.maxKeepaliveSeconds
    if (cap > 0 && this.#v5 && (packet.keepalive === 0 || packet.keepalive > cap)) {
      ctx.connack.properties.serverKeepAlive = cap // [MQTT-3.2.2-21]
      this.#keepaliveMs = cap * 1000
    }
    if (this.#v5 && props?.authenticationMethod !== undefined && !this.#chain.has('onAuth')) {
      return this.#refuse({ reasonCode: Reason.badAuthenticationMethod })
    }
    const outcome = await this.#chain.decide('onConnect', ctx, packet)
    return this.#afterAuthStep(outcome)
  }

  async #afterAuthStep(outcome: ChainOutcome): Promise<void> {
    if (this.#state === 'closing' || this.#state === 'closed') return
    if (outcome.continueAuth !== undefined) {
      if (!this.#v5) return this.#refuse({ reasonCode: Reason.protocolError })
      this.#state = this.#wasConnected ? 'connected' : 'authenticating'
      this.#write({
        cmd: 'auth',
        reasonCode: Reason.continueAuthentication,
        properties: outcome.continueAuth,
      })
      return
    }
    if (this.#wasConnected) {
      // re-authentication outcome
      if ((outcome.reason?.reasonCode ?? 0) >= 0x80)
        return this.#disconnectWith(outcome.reason!, 'connect-refused')
      this.#write({ cmd: 'auth', reasonCode: Reason.success })
      return
    }
    if ((outcome.reason?.reasonCode ?? 0) >= 0x80) return this.#refuse(outcome.reason!)
    return this.#accept(outcome.reason)
  }

  async #onAuth(packet: AuthPacket): Promise<void> {
    if (!this.#v5) return this.#protocolError('AUTH on a protocol version before 5')
    if (this.#state === 'connected' && packet.reasonCode !== Reason.reAuthenticate) {
      return this.#protocolError('AUTH without re-authentication reason code')
    }
    const outcome = await this.#chain.decide('onAuth', this.ctx, packet)
    return this.#afterAuthStep(outcome)
  }

  async #accept(reason: ReasonResult | undefined): Promise<void> {
    const ctx = this.ctx
    const packet = ctx.connectPacket!
    // [MQTT-3.2.2-1] [MQTT-3.2.2-2] a clean start never has a session present
    const sessionPresent = packet.clean ? false : ctx.connack.sessionPresent
    if (this.#v5) {
      const properties: Record<string, unknown> = {
        maximumPacketSize: this.#limits.maxPacketSize,
        receiveMaximum: this.#limits.receiveMaximum,
        topicAliasMaximum: this.#limits.topicAliasMaximum,
        ...ctx.connack.properties,
      }
      if (reason?.reasonString !== undefined) properties.reasonString = reason.reasonString
      this.#write({ cmd: 'connack', reasonCode: Reason.success, sessionPresent, properties })
    } else {
      this.#write({ cmd: 'connack', returnCode: 0, sessionPresent })
    }
    this.#connackSent = true
    this.#wasConnected = true
    this.#state = 'connected'
    this.#armKeepalive()
    await this.#chain.notify('onConnected', ctx)
  }

  /** Refuses the CONNECT with a CONNACK carrying `reason` (3.1.1: the mapped return code, if any), then closes. */
  #refuse(reason: ReasonResult): void {
    this.#metrics.connectionRejected(this.ctx.listener, 'auth_refused')
    this.#sendConnackFailure(reason)
    this.#terminate('connect-refused')
  }

  #sendConnackFailure(reason: ReasonResult): void {
    if (this.#v5) {
      const properties = reason.reasonString === undefined ? undefined : { reasonString: reason.reasonString }
      this.#writeFinal({ cmd: 'connack', reasonCode: reason.reasonCode, sessionPresent: false, properties })
    } else {
      const code = v3ConnackCode(reason.reasonCode)
      if (code !== undefined) this.#writeFinal({ cmd: 'connack', returnCode: code, sessionPresent: false })
    }
    this.#connackSent = true
  }

  // ---- keepalive --------------------------------------------------------

  #armKeepalive(): void {
    if (this.#keepaliveMs <= 0) return
    const limit = this.#keepaliveMs * 1.5 // [MQTT-3.1.2-24]
    const check = () => {
      const idle = Date.now() - this.#lastActivity
      if (idle >= limit) {
        this.#closeError = mqttdError('MQTTD_ERR_KEEPALIVE_TIMEOUT', this.#keepaliveMs / 1000)
        this.#disconnectWith({ reasonCode: Reason.keepAliveTimeout }, 'keepalive-timeout')
      } else {
        this.#keepaliveTimer = setTimeout(check, limit - idle)
      }
    }
    this.#keepaliveTimer = setTimeout(check, limit)
  }

  // ---- PUBLISH, SUBSCRIBE, UNSUBSCRIBE ----------------------------------

  async #onPublish(packet: PublishPacket): Promise<void> {
    const alias = packet.properties?.topicAlias
    if (this.#v5 && alias !== undefined) {
      const resolved = this.#flow.resolveAlias(alias, packet.topic)
      if (!resolved.ok) {
        if (resolved.reason === 'invalid') {
          this.#closeError = mqttdError(
            'MQTTD_ERR_TOPIC_ALIAS_INVALID',
            alias,
            this.#limits.topicAliasMaximum,
          )
          return this.#disconnectWith({ reasonCode: Reason.topicAliasInvalid }, 'protocol-error')
        }
        return this.#protocolError(`unknown topic alias ${alias}`) // [MQTT-3.3.4-?] alias never set
      }
      packet.topic = resolved.topic
      delete packet.properties!.topicAlias
    } else if (packet.topic === '') {
      return this.#protocolError('PUBLISH with an empty topic and no topic alias')
    }
    this.#metrics.messageReceived(packet.qos)
    if (packet.qos === 0) {
      const outcome = await this.#chain.decide('onPublish', this.ctx, packet)
      if ((outcome.reason?.reasonCode ?? 0) >= 0x80) this.#metrics.messageDropped('hook_refused')
      return
    }
    const messageId = packet.messageId!
    if (packet.qos === 2 && this.#flow.isDuplicate(messageId)) {
      // exactly once: acknowledge the re-send, never deliver it again [MQTT-4.3.3-9]
      this.#flow.acknowledged()
      this.#write({ cmd: 'pubrec', messageId })
      return
    }
    if (this.#v5 && overLimit.has(packet)) {
      // [MQTT-3.3.4-9] more unacknowledged QoS>0 PUBLISH packets than Receive Maximum
      this.#closeError = mqttdError('MQTTD_ERR_RECEIVE_MAXIMUM', this.#limits.receiveMaximum)
      return this.#disconnectWith({ reasonCode: Reason.receiveMaximumExceeded }, 'protocol-error')
    }
    const outcome = await this.#chain.decide('onPublish', this.ctx, packet)
    if (this.#state !== 'connected') return
    const code = outcome.reason?.reasonCode ?? 0
    if (code >= 0x80) this.#metrics.messageDropped('hook_refused')
    const properties =
      this.#v5 && outcome.reason?.reasonString !== undefined
        ? { reasonString: outcome.reason.reasonString }
        : undefined
    const ack = this.#v5 ? { messageId, reasonCode: code, properties } : { messageId }
    if (packet.qos === 1) {
      this.#flow.acknowledged()
      this.#write({ cmd: 'puback', ...ack }) // [MQTT-4.3.2-2]
    } else {
      if (code >= 0x80) this.#flow.acknowledged()
      else this.#flow.received(messageId)
      this.#write({ cmd: 'pubrec', ...ack }) // [MQTT-4.3.3-8]
    }
  }

  async #onSubscribe(packet: SubscribePacket): Promise<void> {
    const granted = packet.subscriptions.map((s) => s.qos as number)
    const outcome = await this.#chain.decide('onSubscribe', this.ctx, packet, granted)
    if (this.#state !== 'connected') return
    const code = outcome.reason?.reasonCode ?? 0
    if (code >= 0x80) granted.fill(code)
    // 3.1.1 has one failure code, 0x80 [MQTT-3.9.3-2]
    if (!this.#v5) for (let i = 0; i < granted.length; i++) if (granted[i]! >= 0x80) granted[i] = 0x80
    const properties =
      this.#v5 && outcome.reason?.reasonString !== undefined
        ? { reasonString: outcome.reason.reasonString }
        : undefined
    this.#write({ cmd: 'suback', messageId: packet.messageId, granted, properties }) // [MQTT-3.8.4-1]
    await this.#chain.notify('onSubscribed', this.ctx, packet, granted)
  }

  async #onUnsubscribe(packet: UnsubscribePacket): Promise<void> {
    const reasonCodes = packet.unsubscriptions.map(() => 0)
    const outcome = await this.#chain.decide('onUnsubscribe', this.ctx, packet, reasonCodes)
    if (this.#state !== 'connected') return
    const code = outcome.reason?.reasonCode ?? 0
    if (code >= 0x80) reasonCodes.fill(code)
    if (this.#v5) {
      const properties =
        outcome.reason?.reasonString !== undefined ? { reasonString: outcome.reason.reasonString } : undefined
      this.#write({ cmd: 'unsuback', messageId: packet.messageId, granted: reasonCodes, properties })
    } else {
      this.#write({ cmd: 'unsuback', messageId: packet.messageId }) // [MQTT-3.10.4-4]
    }
  }

  // ---- sending ----------------------------------------------------------

  /** Writes a framework packet; counts it. */
  #write(packet: Record<string, unknown> & { cmd: string }, cb?: (err?: Error | null) => void): boolean {
    if (packet.properties === undefined) delete packet.properties
    const cmd = packet.cmd as keyof Connection & 'connack'
    const send = this.connection[cmd] as (p: unknown, cb?: (err?: Error | null) => void) => boolean
    const ok = send.call(this.connection, packet, cb)
    this.#metrics.packetSent(packet.cmd)
    return ok
  }

  /**
   * `ctx.send`: writes a handler's packet, waiting for `drain` when the
   * stream is full. Never sends more than the client's v5 Maximum Packet Size [MQTT-3.1.2-24].
   */
  async send(packet: OutPacket): Promise<boolean> {
    if (this.#state === 'closing' || this.#state === 'closed' || this.connection.destroyed) return false
    if (this.#maxOutgoingPacket > 0) {
      const size = generate(packet, { protocolVersion: 5 }).length
      if (size > this.#maxOutgoingPacket) {
        this.#metrics.messageDropped('packet_too_large')
        return false
      }
    }
    const ok = this.#write(packet as unknown as Record<string, unknown> & { cmd: string })
    if (packet.cmd === 'publish') this.#metrics.messageSent(packet.qos ?? 0)
    if (ok) return true
    return new Promise((resolve) => {
      const done = () => {
        this.connection.off('drain', done)
        this.connection.off('close', done)
        resolve(!this.connection.destroyed)
      }
      this.connection.on('drain', done)
      this.connection.on('close', done)
    })
  }

  // ---- closing ----------------------------------------------------------

  /**
   * Closes the connection: v5 clients first get DISCONNECT `reasonCode`
   * (CONNACK with it when CONNACK is not sent yet), 3.x clients are closed.
   */
  close(reasonCode: number, reasonString: string | undefined, reason: CloseReason): void {
    const result: ReasonResult = reasonString === undefined ? { reasonCode } : { reasonCode, reasonString }
    this.#disconnectWith(result, reason)
  }

  #disconnectWith(result: ReasonResult, reason: CloseReason): void {
    if (this.#state === 'closing' || this.#state === 'closed') return
    if (this.#v5 && this.ctx.connectPacket !== undefined) {
      if (this.#connackSent) {
        const properties =
          result.reasonString === undefined ? undefined : { reasonString: result.reasonString }
        this.#writeFinal({ cmd: 'disconnect', reasonCode: result.reasonCode, properties })
      } else if (result.reasonCode >= 0x80) {
        // no DISCONNECT before CONNACK [MQTT-3.14.0-1]; CONNACK has no code for some DISCONNECT reasons
        this.#sendConnackFailure({ ...result, reasonCode: connackCode(result.reasonCode) })
      }
    } else if (!this.#connackSent && this.ctx.connectPacket !== undefined && result.reasonCode >= 0x80) {
      this.#sendConnackFailure(result)
    }
    this.#terminate(reason)
  }

  #protocolError(what: string): void {
    this.#closeError = mqttdError('MQTTD_ERR_PROTOCOL_ERROR', what)
    if (!this.#wasConnected) this.#metrics.connectionRejected(this.ctx.listener, 'protocol_error')
    this.#disconnectWith({ reasonCode: Reason.protocolError }, 'protocol-error')
  }

  /**
   * Stops processing and destroys the connection: at once, or once the
   * final packet (`#finalPacket`) reached the socket, or after 1 s. A
   * transferred socket must be destroyed, never only ended (it would leak).
   */
  #terminate(reason: CloseReason): void {
    if (this.#state === 'closing' || this.#state === 'closed') return
    this.#state = 'closing'
    this.#closeReason ??= reason
    this.#clearTimers()
    this.#queue.length = 0
    const connection = this.connection
    if (connection.destroyed) return
    if (!this.#finalPending) {
      connection.destroy()
      return
    }
    this.#destroyTimer = setTimeout(() => connection.destroy(), 1000)
    this.#destroyTimer.unref()
  }

  /** Writes the last packet of the connection (CONNACK refusal, DISCONNECT); destroys once it is written. */
  #writeFinal(packet: Record<string, unknown> & { cmd: string }): void {
    this.#finalPending = true
    this.#write(packet, () => this.connection.destroy())
  }

  #onError(err: Error): void {
    if (this.#state === 'closed') return
    const coded = err instanceof MqttdError
    this.#closeError = err
    if (coded && err.reasonCode !== undefined) {
      // parse errors: the Connection destroys itself right after this event; what is written now is flushed first
      if (!this.#wasConnected) this.#metrics.connectionRejected(this.ctx.listener, 'protocol_error')
      if (err.code === 'MQTTD_ERR_PACKET_TOO_LARGE') this.#metrics.messageDropped('packet_too_large')
      this.#disconnectWith({ reasonCode: err.reasonCode }, 'protocol-error')
    } else {
      this.#closeReason ??= coded ? 'protocol-error' : 'socket-error'
      this.#terminate(this.#closeReason)
    }
    void this.#chain.notifyAll('onError', this.ctx, err).then((failures) => this.#logFailures(failures))
  }

  #hookFailed(err: unknown): void {
    const error = err instanceof Error ? err : new Error(String(err))
    if (err instanceof HookError)
      this.ctx.log.error({ err, hook: err.hook, handler: err.handler }, err.message)
    else this.ctx.log.error({ err }, 'connection failed')
    if (this.#state === 'closing' || this.#state === 'closed') return
    this.#closeError = error
    this.#disconnectWith({ reasonCode: Reason.implementationSpecific }, 'hook-error')
    void this.#chain.notifyAll('onError', this.ctx, error).then((failures) => this.#logFailures(failures))
  }

  #logFailures(failures: HookError[]): void {
    for (const f of failures) this.ctx.log.error({ err: f, hook: f.hook, handler: f.handler }, f.message)
  }

  /** Adds the bytes moved since the last call to the worker's counters (per packet, and at close). */
  #countBytes(): void {
    const connection = this.connection
    const read = connection.bytesReceived
    const sent = connection.bytesSent
    if (read > this.#bytesInCounted) this.#metrics.bytesReceived(read - this.#bytesInCounted)
    if (sent > this.#bytesOutCounted) this.#metrics.bytesSent(sent - this.#bytesOutCounted)
    this.#bytesInCounted = read
    this.#bytesOutCounted = sent
  }

  #clearTimers(): void {
    clearTimeout(this.#connectTimer)
    clearTimeout(this.#keepaliveTimer)
    this.#connectTimer = undefined
    this.#keepaliveTimer = undefined
  }

  async #finish(): Promise<void> {
    if (this.#state === 'closed') return
    this.#state = 'closed'
    this.#clearTimers()
    clearTimeout(this.#destroyTimer)
    this.#queue.length = 0
    this.#countBytes()
    const info: CloseInfo = { reason: this.#closeReason ?? 'socket-closed', wasConnected: this.#wasConnected }
    if (this.#disconnectPacket !== undefined) info.disconnect = this.#disconnectPacket
    if (this.#closeError !== undefined) info.error = this.#closeError
    this.#logFailures(await this.#chain.notifyAll('onClose', this.ctx, info))
    this.#resolveClosed(info)
  }
}
