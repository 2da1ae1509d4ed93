import type { Duplex } from 'node:stream'
import { writeToStream } from 'mqtt-packet'
import { type MqttdError, mqttdError } from '../errors.ts'
import { encodeConnack, encodePuback, encodePublish } from './fast-encode.ts'
import { generateError } from './generate-error.ts'
import { acquireOutbound, type OutboundBuffer, releaseOutbound } from './outbound-buffer.ts'
import type { PacketCmd, SendCallback } from './types.ts'

// mqtt-packet's default builds, on its first generate, a table of 65,536 two-byte Buffers (the
// packet ids): about 7 MB of heap in every thread that generates a packet. The fast paths encode
// PUBLISH and PUBACK themselves; the rarer packets mqtt-packet writes can afford a 2-byte allocation.
writeToStream.cacheNumbers = false

// a module function with its writer as argument: no closure (and context) kept per connection
function flushTick(writer: PacketWriter): void {
  writer.flushScheduled()
}

function callAll(callbacks: SendCallback[], err: Error | null): void {
  for (const cb of callbacks) cb(err)
}

/**
 * The outbound side of a Connection: encodes packets into a batch and hands
 * the batch to the raw stream once per tick (or as soon as it reaches the
 * stream's high-water mark), as one write or a corked series. `full` mirrors
 * the raw stream's last `write()` result until its `'drain'`.
 */
export class PacketWriter {
  /** Protocol version the packets are generated for (mqtt-packet reads only this field). */
  readonly options = { protocolVersion: 4 }
  #raw: Duplex
  /** The batch being written this tick; none between flushes (see acquireOutbound). */
  #out: OutboundBuffer | undefined
  #callbacks: SendCallback[] | null = null
  #scheduled = false
  #full = false
  #bytesSent = 0

  constructor(raw: Duplex, protocolVersion: number) {
    this.#raw = raw
    this.options.protocolVersion = protocolVersion
  }

  /** True while the raw stream asked to wait for `'drain'`. */
  get full(): boolean {
    return this.#full
  }

  get bytesSent(): number {
    return this.#bytesSent
  }

  /** Encodes one packet into the batch; returns the coded error if it is invalid (nothing is kept of it). */
  write(cmd: PacketCmd, opts: object | null | undefined, cb: SendCallback | undefined): MqttdError | null {
    this.#out ??= acquireOutbound()
    const out = this.#out
    const v5 = this.options.protocolVersion === 5
    const fast =
      opts != null &&
      (cmd === 'publish'
        ? encodePublish(out, opts, v5)
        : cmd === 'puback'
          ? encodePuback(out, opts, v5)
          : cmd === 'connack' && encodeConnack(out, opts, v5))
    if (!fast) {
      const err = this.#writeSlow(out, cmd, opts)
      if (err !== null) {
        if (out.length === 0) this.#release(out)
        return err
      }
    }
    if (cb) {
      if (this.#callbacks === null) this.#callbacks = [cb]
      else this.#callbacks.push(cb)
    }
    if (out.length >= (this.#raw.writableHighWaterMark || 16_384)) this.flush()
    else if (!this.#scheduled) {
      this.#scheduled = true
      process.nextTick(flushTick, this)
    }
    return null
  }

  /** The tick's flush (scheduled by the first write of a batch). */
  flushScheduled(): void {
    this.#scheduled = false
    this.flush()
  }

  #writeSlow(out: OutboundBuffer, cmd: PacketCmd, opts: object | null | undefined): MqttdError | null {
    // never mutate the caller's object: mqtt-packet needs `cmd` on the packet
    const packet = (
      opts == null ? { cmd } : (opts as { cmd?: unknown }).cmd === cmd ? opts : { ...opts, cmd }
    ) as Parameters<typeof writeToStream>[0]
    out.begin()
    let ok: boolean
    try {
      ok = writeToStream(packet, out as unknown as NodeJS.WritableStream, this.options)
    } catch (cause) {
      out.error ??= cause instanceof Error ? cause : new Error(String(cause))
      ok = false
    }
    if (!ok || out.error !== null) {
      out.rollback()
      return generateError(cmd, out.error)
    }
    return null
  }

  /** Hands the batch to the raw stream now. */
  flush(): void {
    const out = this.#out
    if (out === undefined || out.length === 0) return
    const chunks = out.take()
    // before the writes below: whatever they set off may start a new batch
    this.#release(out)
    const callbacks = this.#callbacks
    this.#callbacks = null
    const raw = this.#raw
    // the peer ended (we ended too) or the stream is gone: fail the callbacks, no write-after-end error
    if (raw.writableEnded || raw.destroyed) {
      if (callbacks !== null) callAll(callbacks, mqttdError('MQTTD_ERR_CONNECTION_DESTROYED', 'packet'))
      return
    }
    const done = callbacks === null ? undefined : (err?: Error | null) => callAll(callbacks, err ?? null)
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
    if (!ok) this.#full = true
  }

  #release(out: OutboundBuffer): void {
    this.#out = undefined
    releaseOutbound(out)
  }

  /** The raw stream drained: returns true if we had reported it full. */
  drained(): boolean {
    if (!this.#full) return false
    this.#full = false
    return true
  }

  /** Fails the callbacks of packets not yet handed over (the connection is gone). */
  failPending(): void {
    const callbacks = this.#callbacks
    this.#callbacks = null
    if (callbacks !== null) callAll(callbacks, mqttdError('MQTTD_ERR_CONNECTION_DESTROYED', 'packet'))
  }
}
