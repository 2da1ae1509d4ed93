import { Duplex } from 'node:stream'
import { writeToStream } from 'mqtt-packet'
import { MqttdError, mqttdError, mqttdErrorWithCause } from '../errors.ts'
import { encodePuback, encodePublish } from './fast-encode.ts'
import { parseFast, slowRunEnd } from './fast-path.ts'
import { OutboundBuffer } from './outbound-buffer.ts'
import { PacketParser } from './packet-parser.ts'
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

/** Options handed to mqtt-packet's writeToStream; only `protocolVersion` is read. */
interface GenerateOptions {
  protocolVersion: number
}

function callAll(callbacks: SendCallback[], err?: Error | null): void {
  for (const cb of callbacks) cb(err ?? null)
}

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
  #parser: PacketParser
  #out = new OutboundBuffer()
  #callbacks: SendCallback[] | null = null
  #flushScheduled = false
  #rawFull = false
  #afterDrain: (() => void) | null = null
  #closed = false
  #first = true
  #connectCb: (() => void) | undefined
  #configuredVersion: ProtocolVersion | undefined
  #generateOptions: GenerateOptions
  #bytesReceived = 0
  #bytesSent = 0
  #rawPaused = false
  #maxPacketSize: number
  #emitFast = (packet: Packet): boolean => {
    this.#onPacket(packet)
    return !this.#closed
  }
  /**
   * The read loop. At a packet boundary the fast path parses what it can
   * straight from the chunk; the packets it leaves are given to mqtt-packet's
   * parser as runs of whole packets, so the fast path resumes right after
   * them (and after a CONNECT, with the version it set). A packet split across
   * chunks is completed by giving the parser exactly its missing bytes.
   */
  #onData = (chunk: Buffer) => {
    this.#bytesReceived += chunk.length
    const parser = this.#parser
    const end = chunk.length
    let off = 0
    while (off < end) {
      let next: number
      if (parser._stateCounter === 0 && parser._list.length === 0) {
        const v5 = this.#generateOptions.protocolVersion === 5
        off = parseFast(chunk, off, v5, this.#maxPacketSize, this.#emitFast)
        if (off === end || this.#closed) return
        next = slowRunEnd(chunk, off, v5, this.#maxPacketSize)
      } else if (parser._stateCounter === 2) {
        next = Math.min(off + parser.packet.length - parser._list.length, end)
      } else {
        next = off + 1 // inside a fixed header split across chunks: byte by byte (≤ 4 bytes)
      }
      parser.parse(off === 0 && next === end ? chunk : chunk.subarray(off, next))
      off = next
      if (this.#closed) return
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
    this.#generateOptions = { protocolVersion: opts?.protocolVersion ?? 4 }
    this.#maxPacketSize = opts?.maxPacketSize ?? Number.POSITIVE_INFINITY
    const parser = new PacketParser({ protocolVersion: opts?.protocolVersion ?? 4 }, this.#maxPacketSize)
    this.#parser = parser
    parser.on('packet', (packet: Packet) => this.#onPacket(packet))
    parser.on('error', (err: Error) => this.#onParseError(err))

    duplex.on('error', (err: Error) => {
      if (this.#closed) return
      this.emit('error', err)
      this.destroy()
    })
    duplex.on('close', () => this.destroy())
    duplex.on('end', () => this.#onRawEnd())
    duplex.on('drain', () => this.#onRawDrain())

    // normal mode: packets are emitted as events, the readable side only ends
    if (!notData) this.resume()
    // defer reading, so the consumer can attach listeners first
    process.nextTick(() => {
      if (!this.#closed) duplex.on('data', this.#onData)
    })
  }

  /** Protocol version used for parsing and generating (set by CONNECT/CONNACK or `setOptions`). */
  get protocolVersion(): number {
    return this.#generateOptions.protocolVersion
  }

  /** Raw bytes read from the stream. */
  get bytesReceived(): number {
    return this.#bytesReceived
  }

  /** Raw bytes handed to the stream. */
  get bytesSent(): number {
    return this.#bytesSent
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
    this.#parser.settings = { protocolVersion: version, bridgeMode: packet.bridgeMode === true }
    this.#generateOptions = { protocolVersion: version }
  }

  connect(opts?: SendOptionsByCmd['connect'] | null, cb?: SendCallback): boolean {
    // a client's CONNECT names the version its CONNACK will be parsed with
    if (this.#first && opts?.protocolVersion !== undefined && this.#configuredVersion === undefined) {
      this.#configuredVersion = opts.protocolVersion
      this.setOptions({ protocolVersion: opts.protocolVersion })
    }
    return this.#send('connect', opts, cb)
  }
  connack(opts?: SendOptionsByCmd['connack'] | null, cb?: SendCallback): boolean {
    return this.#send('connack', opts, cb)
  }
  publish(opts?: SendOptionsByCmd['publish'] | null, cb?: SendCallback): boolean {
    return this.#send('publish', opts, cb)
  }
  puback(opts?: SendOptionsByCmd['puback'] | null, cb?: SendCallback): boolean {
    return this.#send('puback', opts, cb)
  }
  pubrec(opts?: SendOptionsByCmd['pubrec'] | null, cb?: SendCallback): boolean {
    return this.#send('pubrec', opts, cb)
  }
  pubrel(opts?: SendOptionsByCmd['pubrel'] | null, cb?: SendCallback): boolean {
    return this.#send('pubrel', opts, cb)
  }
  pubcomp(opts?: SendOptionsByCmd['pubcomp'] | null, cb?: SendCallback): boolean {
    return this.#send('pubcomp', opts, cb)
  }
  subscribe(opts?: SendOptionsByCmd['subscribe'] | null, cb?: SendCallback): boolean {
    return this.#send('subscribe', opts, cb)
  }
  suback(opts?: SendOptionsByCmd['suback'] | null, cb?: SendCallback): boolean {
    return this.#send('suback', opts, cb)
  }
  unsubscribe(opts?: SendOptionsByCmd['unsubscribe'] | null, cb?: SendCallback): boolean {
    return this.#send('unsubscribe', opts, cb)
  }
  unsuback(opts?: SendOptionsByCmd['unsuback'] | null, cb?: SendCallback): boolean {
    return this.#send('unsuback', opts, cb)
  }
  pingreq(opts?: SendOptionsByCmd['pingreq'] | null, cb?: SendCallback): boolean {
    return this.#send('pingreq', opts, cb)
  }
  pingresp(opts?: SendOptionsByCmd['pingresp'] | null, cb?: SendCallback): boolean {
    return this.#send('pingresp', opts, cb)
  }
  disconnect(opts?: SendOptionsByCmd['disconnect'] | null, cb?: SendCallback): boolean {
    return this.#send('disconnect', opts, cb)
  }
  auth(opts?: SendOptionsByCmd['auth'] | null, cb?: SendCallback): boolean {
    return this.#send('auth', opts, cb)
  }

  /**
   * Generates one packet into the outbound batch. Returns false when the raw
   * stream asked to wait for `drain` (or the connection is destroyed).
   */
  #send(cmd: PacketCmd, opts: object | null | undefined, cb: SendCallback | undefined): boolean {
    const err = this.#generate(cmd, opts)
    if (err !== null) {
      if (err.code === 'MQTTD_ERR_CONNECTION_DESTROYED') {
        if (cb) process.nextTick(cb, err)
        return false
      }
      process.nextTick(() => {
        this.emit('error', err)
        cb?.(err)
      })
      return !this.#rawFull
    }
    if (cb) {
      if (this.#callbacks === null) this.#callbacks = [cb]
      else this.#callbacks.push(cb)
    }
    return !this.#rawFull
  }

  /** Returns null on success; the batch is flushed on the next tick or once it reaches the high-water mark. */
  #generate(cmd: PacketCmd, opts: object | null | undefined): MqttdError | null {
    if (this.#closed) return mqttdError('MQTTD_ERR_CONNECTION_DESTROYED', cmd)
    const out = this.#out
    const v5 = this.#generateOptions.protocolVersion === 5
    const fast =
      opts != null &&
      (cmd === 'publish' ? encodePublish(out, opts, v5) : cmd === 'puback' && encodePuback(out, opts, v5))
    if (!fast) {
      const err = this.#generateSlow(cmd, opts)
      if (err !== null) return err
    }
    if (out.length >= (this.stream.writableHighWaterMark || 16_384)) this.#flush()
    else if (!this.#flushScheduled) {
      this.#flushScheduled = true
      process.nextTick(this.#flushTick)
    }
    return null
  }

  #generateSlow(cmd: PacketCmd, opts: object | null | undefined): MqttdError | null {
    // never mutate the caller's object: mqtt-packet needs `cmd` on the packet
    const packet = (
      opts == null ? { cmd } : (opts as { cmd?: unknown }).cmd === cmd ? opts : { ...opts, cmd }
    ) as Parameters<typeof writeToStream>[0]
    const out = this.#out
    out.begin()
    let ok: boolean
    try {
      ok = writeToStream(packet, out as unknown as NodeJS.WritableStream, this.#generateOptions)
    } catch (cause) {
      out.error ??= cause instanceof Error ? cause : new Error(String(cause))
      ok = false
    }
    if (!ok || out.error !== null) {
      out.rollback()
      const cause = out.error ?? new Error('invalid properties')
      return mqttdErrorWithCause('MQTTD_ERR_INVALID_PACKET', cause, cmd, cause.message)
    }
    return null
  }

  #flushTick = () => {
    this.#flushScheduled = false
    this.#flush()
  }

  /** Hands the batch to the raw stream: one write, or a corked series for big payloads. */
  #flush(): void {
    const out = this.#out
    if (out.length === 0) return
    const chunks = out.take()
    const callbacks = this.#callbacks
    this.#callbacks = null
    const raw = this.stream
    // the peer ended (we ended too) or the stream is gone: fail the callbacks, no write-after-end error
    if (raw.writableEnded || raw.destroyed) {
      if (callbacks !== null) callAll(callbacks, mqttdError('MQTTD_ERR_CONNECTION_DESTROYED', 'packet'))
      return
    }
    const done = callbacks === null ? undefined : (err?: Error | null) => callAll(callbacks, err)
    let ok: boolean
    if (chunks.length === 1) {
      const chunk = chunks[0]!
      this.#bytesSent += chunk.length
      ok = raw.write(chunk, done)
    } else {
      raw.cork()
      ok = true
      const last = chunks.length - 1
      for (let i = 0; i <= last; i++) {
        const chunk = chunks[i]!
        this.#bytesSent += chunk.length
        ok = raw.write(chunk, i === last ? done : undefined)
      }
      raw.uncork()
    }
    if (!ok) this.#rawFull = true
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
      this.#flush()
      raw.end()
    }
  }

  #onRawDrain(): void {
    if (!this.#rawFull) return
    this.#rawFull = false
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
    const err = this.#generate(packet?.cmd, packet)
    if (err !== null) cb(err)
    else if (this.#rawFull) this.#afterDrain = cb
    else cb()
  }

  override _final(cb: (err?: Error | null) => void): void {
    this.#flush()
    this.stream.end()
    cb()
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    this.#closed = true
    const raw = this.stream
    raw.removeListener('data', this.#onData)
    // hand over what is batched (a DISCONNECT sent just before destroy()), then close
    if (!raw.destroyed) {
      this.#flush()
      if (typeof raw.destroy === 'function') raw.destroy()
      else (raw as Duplex).end()
    }
    const callbacks = this.#callbacks
    this.#callbacks = null
    if (callbacks !== null) callAll(callbacks, mqttdError('MQTTD_ERR_CONNECTION_DESTROYED', 'packet'))
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
Object.assign(Connection, { parseStream, generateStream })
