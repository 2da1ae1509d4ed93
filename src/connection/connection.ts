import { Duplex } from 'node:stream'
import { MqttdError, mqttdError, mqttdErrorWithCause } from '../errors.ts'
import { PacketReader, type ReaderHost } from './packet-reader.ts'
import { PacketWriter } from './packet-writer.ts'
import { generateStream, parseStream } from './streams.ts'
import type {
  ConnectionEvents,
  ConnectionOptions,
  OutgoingPacket,
  Packet,
  PacketCmd,
  ProtocolVersion,
  SendCallback,
  SendOptionsByCmd,
  SetOptionsPacket,
} from './types.ts'

type Listener<K extends keyof ConnectionEvents> = (...args: ConnectionEvents[K]) => void

/** On a raw stream: the first Connection made on it, for the listeners it shares with the others. */
const kConnection = Symbol('mqttd.connection')
type OwnedDuplex = Duplex & { [kConnection]?: ConnectionImpl }

/**
 * An MQTT connection over any binary duplex stream (TCP, TLS, WebSocket, …):
 * parses what arrives into per-packet events and generates what is sent.
 * A drop-in for mqtt-connection 4.1.0 that fixes its byte loss on version
 * switch, unbounded buffering, silent stalls and destroy handling.
 *
 * Call it with or without `new`.
 */
class ConnectionImpl extends Duplex {
  /** The raw duplex stream the packets travel on. */
  readonly stream: Duplex
  /** The last options set by `setOptions()` (the first CONNECT or CONNACK), as in mqtt-connection. */
  options: Record<string, unknown> | undefined
  #notData: boolean
  #reader: PacketReader
  #writer: PacketWriter
  #afterDrain: (() => void) | null = null
  #closed = false
  #released = false
  #first = true
  #connectCb: (() => void) | undefined
  #configuredVersion: ProtocolVersion | undefined
  #rawPaused = false
  /** The raw stream's `'data'` listener when it is not the shared {@link #rawData} (a second Connection on the stream). */
  #ownData: ((chunk: Buffer) => void) | undefined

  /** The reader's way back to its connection: one small object, not three closures (and their context) per connection. */
  static readonly #ReaderHost = class implements ReaderHost {
    readonly #connection: ConnectionImpl
    constructor(connection: ConnectionImpl) {
      this.#connection = connection
    }
    packet(packet: Packet): void {
      this.#connection.#onPacket(packet)
    }
    error(err: Error): void {
      this.#connection.#onParseError(err)
    }
    closed(): boolean {
      return this.#connection.#closed
    }
  }

  constructor(duplex: Duplex, opts?: ConnectionOptions | (() => void), cb?: () => void) {
    if (typeof opts === 'function') {
      cb = opts
      opts = undefined
    }
    const notData = opts?.notData === true
    super({ objectMode: true })
    this.stream = duplex
    this.#notData = notData
    this.#connectCb = cb
    this.#configuredVersion = opts?.protocolVersion
    this.#writer = new PacketWriter(duplex, opts?.protocolVersion ?? 4)
    this.#reader = new PacketReader(
      new ConnectionImpl.#ReaderHost(this),
      { protocolVersion: opts?.protocolVersion ?? 4 },
      opts?.maxPacketSize ?? Number.POSITIVE_INFINITY,
    )

    const owned = duplex as OwnedDuplex
    if (owned[kConnection] === undefined) {
      // the stream points back to its connection, so its listeners (these four, and `data` from the
      // next tick) are shared functions, not closures (and their context) per connection
      owned[kConnection] = this
      duplex.on('error', ConnectionImpl.#rawError)
      duplex.on('close', ConnectionImpl.#rawClose)
      duplex.on('end', ConnectionImpl.#rawEnd)
      duplex.on('drain', ConnectionImpl.#rawDrain)
    } else {
      // a second Connection on a stream another one points from: its own closures
      this.#ownData = (chunk: Buffer) => this.#reader.read(chunk)
      duplex.on('error', (err: Error) => this.#onRawError(err))
      duplex.on('close', () => this.destroy())
      duplex.on('end', () => this.#onRawEnd())
      duplex.on('drain', () => this.#onRawDrain())
    }

    // normal mode: packets are emitted as events, the readable side only ends
    if (!notData) this.resume()
    // defer reading, so the consumer can attach listeners first (a shared function: no closure and
    // context per connection)
    process.nextTick(ConnectionImpl.#startReading, this, duplex)
  }

  static #startReading(connection: ConnectionImpl, duplex: Duplex): void {
    if (!connection.#closed) duplex.on('data', connection.#ownData ?? ConnectionImpl.#rawData)
  }

  /** Protocol version used for parsing and generating (set by CONNECT/CONNACK or `setOptions`). */
  get protocolVersion(): number {
    return this.#writer.options.protocolVersion
  }

  /** Raw bytes read from the stream. */
  get bytesReceived(): number {
    return this.#reader.bytesReceived
  }

  /** Raw bytes handed to the stream. */
  get bytesSent(): number {
    return this.#writer.bytesSent
  }

  /**
   * Sets the protocol version for parsing and generating, as mqtt-connection
   * does with the first packet: a CONNECT carries it; for a CONNACK it is
   * `opts.protocolVersion`, else the configured one, else 4. The parser is
   * kept (never swapped), so no buffered byte is lost.
   */
  setOptions(packet: SetOptionsPacket, opts?: { protocolVersion?: number }): void {
    let version = packet.protocolVersion
    if (packet.cmd === 'connack') version = opts?.protocolVersion ?? this.#configuredVersion ?? 4
    version ??= 4
    this.options = { ...packet, protocolVersion: version }
    this.#reader.settings = { protocolVersion: version, bridgeMode: packet.bridgeMode === true }
    this.#writer.options.protocolVersion = version
  }

  // Every send method: `opts` is never modified; `cb` runs once the bytes are handed to the raw
  // stream (or with the error that stopped them); returns false when the caller should wait
  // for 'drain' (or the connection is destroyed). An invalid packet emits one 'error' before the
  // call returns, as mqtt-connection does.

  /** Sends a CONNECT (a client; its protocolVersion also sets the version the CONNACK is parsed with). */
  connect(opts?: SendOptionsByCmd['connect'] | null, cb?: SendCallback): boolean {
    // a client's CONNECT names the version its CONNACK will be parsed with
    const version = opts?.protocolVersion
    if (
      this.#first &&
      this.#configuredVersion === undefined &&
      (version === 3 || version === 4 || version === 5)
    ) {
      this.#configuredVersion = version
      this.setOptions({ protocolVersion: version })
    }
    return this.#send('connect', opts, cb)
  }
  /** Sends a CONNACK. */
  connack(opts?: SendOptionsByCmd['connack'] | null, cb?: SendCallback): boolean {
    return this.#send('connack', opts, cb)
  }
  /** Sends a PUBLISH (a Buffer payload of 2 KiB or more is sent by reference: do not modify it until the callback). */
  publish(opts?: SendOptionsByCmd['publish'] | null, cb?: SendCallback): boolean {
    return this.#send('publish', opts, cb)
  }
  /** Sends a PUBACK. */
  puback(opts?: SendOptionsByCmd['puback'] | null, cb?: SendCallback): boolean {
    return this.#send('puback', opts, cb)
  }
  /** Sends a PUBREC. */
  pubrec(opts?: SendOptionsByCmd['pubrec'] | null, cb?: SendCallback): boolean {
    return this.#send('pubrec', opts, cb)
  }
  /** Sends a PUBREL. */
  pubrel(opts?: SendOptionsByCmd['pubrel'] | null, cb?: SendCallback): boolean {
    return this.#send('pubrel', opts, cb)
  }
  /** Sends a PUBCOMP. */
  pubcomp(opts?: SendOptionsByCmd['pubcomp'] | null, cb?: SendCallback): boolean {
    return this.#send('pubcomp', opts, cb)
  }
  /** Sends a SUBSCRIBE. */
  subscribe(opts?: SendOptionsByCmd['subscribe'] | null, cb?: SendCallback): boolean {
    return this.#send('subscribe', opts, cb)
  }
  /** Sends a SUBACK. */
  suback(opts?: SendOptionsByCmd['suback'] | null, cb?: SendCallback): boolean {
    return this.#send('suback', opts, cb)
  }
  /** Sends a UNSUBSCRIBE. */
  unsubscribe(opts?: SendOptionsByCmd['unsubscribe'] | null, cb?: SendCallback): boolean {
    return this.#send('unsubscribe', opts, cb)
  }
  /** Sends a UNSUBACK. */
  unsuback(opts?: SendOptionsByCmd['unsuback'] | null, cb?: SendCallback): boolean {
    return this.#send('unsuback', opts, cb)
  }
  /** Sends a PINGREQ. */
  pingreq(opts?: SendOptionsByCmd['pingreq'] | null, cb?: SendCallback): boolean {
    return this.#send('pingreq', opts, cb)
  }
  /** Sends a PINGRESP. */
  pingresp(opts?: SendOptionsByCmd['pingresp'] | null, cb?: SendCallback): boolean {
    return this.#send('pingresp', opts, cb)
  }
  /** Sends a DISCONNECT. */
  disconnect(opts?: SendOptionsByCmd['disconnect'] | null, cb?: SendCallback): boolean {
    return this.#send('disconnect', opts, cb)
  }
  /** Sends a AUTH (MQTT 5). */
  auth(opts?: SendOptionsByCmd['auth'] | null, cb?: SendCallback): boolean {
    return this.#send('auth', opts, cb)
  }

  /**
   * Generates one packet into the outbound batch. Returns false when the raw
   * stream asked to wait for `drain` (or the connection is destroyed).
   */
  #send(cmd: PacketCmd, opts: object | null | undefined, cb: SendCallback | undefined): boolean {
    if (this.#closed) {
      if (cb) process.nextTick(cb, mqttdError('MQTTD_ERR_CONNECTION_DESTROYED', cmd))
      return false
    }
    const err = this.#writer.write(cmd, opts, cb)
    if (err !== null) {
      // mqtt-connection 4.1.0 emits 'error' inside the send call (mqtt-packet emits it on the
      // stream it writes to) and calls back later: the same order here, so code written for it
      // (a try/catch around the call, an 'error' listener added after it) behaves the same
      if (cb) process.nextTick(cb, err)
      this.emit('error', err)
      return !this.#closed && !this.#writer.full
    }
    return !this.#writer.full
  }

  // listeners of the raw stream (`this` is it): plain functions, where a method would see the class
  static readonly #rawData = function (this: Duplex, chunk: Buffer): void {
    ;(this as OwnedDuplex)[kConnection]!.#reader.read(chunk)
  }

  static readonly #rawError = function (this: Duplex, err: Error): void {
    ;(this as OwnedDuplex)[kConnection]!.#onRawError(err)
  }

  static readonly #rawClose = function (this: Duplex): void {
    ;(this as OwnedDuplex)[kConnection]!.destroy()
  }

  static readonly #rawEnd = function (this: Duplex): void {
    ;(this as OwnedDuplex)[kConnection]!.#onRawEnd()
  }

  static readonly #rawDrain = function (this: Duplex): void {
    ;(this as OwnedDuplex)[kConnection]!.#onRawDrain()
  }

  #onRawError(err: Error): void {
    if (this.#closed) return
    this.emit('error', err)
    this.destroy()
  }

  /**
   * MQTT has no half-open connections: once the peer ended, end our side too
   * (after what is batched), as a net.Socket with allowHalfOpen false does.
   * Streams like ws's createWebSocketStream only close once both sides ended.
   */
  #onRawEnd(): void {
    this.push(null)
    const raw = this.stream
    if (!raw.writableEnded && !raw.destroyed) {
      this.#writer.flush()
      raw.end()
    }
  }

  #onRawDrain(): void {
    if (!this.#writer.drained()) return
    const after = this.#afterDrain
    this.#afterDrain = null
    this.emit('drain')
    after?.()
  }

  #onPacket(packet: Packet): void {
    if (this.#closed) return
    if (this.#first) {
      this.#first = false
      if (packet.cmd === 'connect' || packet.cmd === 'connack') this.setOptions(packet, undefined)
      this.#connectCb?.()
    }
    if (this.#notData) {
      if (!this.push(packet) && !this.#rawPaused) {
        this.#rawPaused = true
        this.stream.pause()
      }
      return
    }
    this.emit('data', packet)
    this.emit(packet.cmd, packet)
  }

  #onParseError(err: Error): void {
    if (this.#closed) return
    // mqtt-packet's parser cannot be reused after an error: report once, then close
    const coded =
      err instanceof MqttdError ? err : mqttdErrorWithCause('MQTTD_ERR_MALFORMED_PACKET', err, err.message)
    this.emit('error', coded)
    this.destroy()
  }

  override _read(): void {
    if (this.#rawPaused) {
      this.#rawPaused = false
      this.stream.resume()
    }
  }

  override _write(packet: OutgoingPacket, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    const err = this.#closed
      ? mqttdError('MQTTD_ERR_CONNECTION_DESTROYED', packet?.cmd)
      : this.#writer.write(packet?.cmd, packet, undefined)
    if (err !== null) cb(err)
    else if (this.#writer.full) this.#afterDrain = cb
    else cb()
  }

  override _final(cb: (err?: Error | null) => void): void {
    this.#writer.flush()
    this.stream.end()
    cb()
  }

  /**
   * Destroys the connection (no more events, `'close'` emitted, pending
   * callbacks fail) but not its raw stream, which it returns after handing it
   * what is batched: the caller closes the stream (e.g. gracefully, so a
   * final DISCONNECT is not wiped by a reset).
   */
  release(): Duplex {
    this.#released = true
    this.destroy()
    return this.stream
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    this.#closed = true
    const raw = this.stream
    raw.removeListener('data', this.#ownData ?? ConnectionImpl.#rawData)
    // hand over what is batched (a DISCONNECT sent just before destroy()), then close
    if (!raw.destroyed) {
      this.#writer.flush()
      // released: the caller closes it
      if (!this.#released) {
        if (typeof raw.destroy === 'function') raw.destroy()
        else (raw as Duplex).end()
      }
    }
    this.#writer.failPending()
    cb(err)
  }
}

/** A typed `on`/`once`/`emit`/`off` over {@link ConnectionEvents}. */
interface ConnectionEventMethods {
  on<K extends keyof ConnectionEvents>(event: K, listener: Listener<K>): this
  once<K extends keyof ConnectionEvents>(event: K, listener: Listener<K>): this
  off<K extends keyof ConnectionEvents>(event: K, listener: Listener<K>): this
  addListener<K extends keyof ConnectionEvents>(event: K, listener: Listener<K>): this
  prependListener<K extends keyof ConnectionEvents>(event: K, listener: Listener<K>): this
  removeListener<K extends keyof ConnectionEvents>(event: K, listener: Listener<K>): this
  emit<K extends keyof ConnectionEvents>(event: K, ...args: ConnectionEvents[K]): boolean
}

/** A Connection instance. */
export type Connection = Omit<ConnectionImpl, keyof ConnectionEventMethods> & ConnectionEventMethods

/** The Connection export: a class you may also call without `new`. */
export interface ConnectionConstructor {
  new (stream: Duplex, opts?: ConnectionOptions, cb?: () => void): Connection
  new (stream: Duplex, cb?: () => void): Connection
  (stream: Duplex, opts?: ConnectionOptions, cb?: () => void): Connection
  (stream: Duplex, cb?: () => void): Connection
  readonly prototype: Connection
  /** An object-mode Transform: Buffers in, parsed packets out. */
  parseStream: typeof parseStream
  /** An object-mode Transform: packets in, Buffers out. */
  generateStream: typeof generateStream
  /** Itself, so `const { Connection } = require('mqttd/connection')` works too. */
  readonly Connection: ConnectionConstructor
  /** Itself, for CommonJS code that reads `.default`. */
  readonly default: ConnectionConstructor
}

/**
 * Creates a Connection over `stream`, with or without `new`. `cb` runs when
 * the first packet arrives (before its events), as in mqtt-connection.
 */
export const Connection = function Connection(
  this: unknown,
  stream: Duplex,
  opts?: ConnectionOptions | (() => void),
  cb?: () => void,
): ConnectionImpl {
  // keep subclasses (`class X extends Connection`) working: construct with their new.target
  if (new.target !== undefined && new.target !== Connection) {
    return Reflect.construct(ConnectionImpl, [stream, opts, cb], new.target) as ConnectionImpl
  }
  return new ConnectionImpl(stream, opts, cb)
} as unknown as ConnectionConstructor

Object.defineProperty(Connection, 'prototype', { value: ConnectionImpl.prototype })
Object.defineProperty(ConnectionImpl.prototype, 'constructor', {
  value: Connection,
  writable: true,
  configurable: true,
})
Object.assign(Connection, { parseStream, generateStream, Connection, default: Connection })
