/**
 * A minimal MQTT client for load generation. Outbound traffic is pre-encoded
 * by the caller (see publish-template.ts); inbound packets are split by
 * FrameReader without building packet objects. QoS 1 deliveries are acknowledged in one write per chunk read.
 */
import type { Duplex } from 'node:stream'
import mqttPacket from 'mqtt-packet'
import { FrameReader, skipProperties } from './frame-reader.ts'
import { openStream, type Target } from './transport.ts'

export interface ConnectOptions {
  clientId: string
  protocolVersion: 4 | 5
  keepalive: number
  clean: boolean
  localAddress?: string
  timeoutMs: number
}

export class LoadClient {
  readonly stream: Duplex
  readonly protocolVersion: 4 | 5
  /** Called for every PUBLISH received (its PUBACK is queued); `payload` is only valid during the call. */
  onPublish: (payload: Buffer, qos: number) => void = () => {}
  /** Called for every PUBACK received. */
  onPuback: (messageId: number) => void = () => {}
  /** Called once when the stream closes, with the reason if it was not ours. */
  onClose: (error: Error | null) => void = () => {}
  closed = false
  #closing = false
  #pendingSub: ((granted: number[]) => void) | null = null
  #pendingConnack: ((code: number) => void) | null = null
  #nextId = 1

  constructor(stream: Duplex, protocolVersion: 4 | 5) {
    this.stream = stream
    this.protocolVersion = protocolVersion
    const v5 = protocolVersion === 5
    const acks: number[] = []
    const reader = new FrameReader((type, flags, buf, start, end) => {
      switch (type) {
        case 3: {
          // PUBLISH: topic, [packet id], [v5 properties], payload
          const qos = (flags >> 1) & 3
          let pos = start + 2 + buf.readUInt16BE(start)
          if (qos > 0) {
            acks.push(buf.readUInt16BE(pos))
            pos += 2
          }
          if (v5) pos = skipProperties(buf, pos)
          this.onPublish(buf.subarray(pos, end), qos)
          break
        }
        case 4:
          this.onPuback(buf.readUInt16BE(start))
          break
        case 2:
          this.#pendingConnack?.(end - start >= 2 ? buf[start + 1]! : 0x80)
          this.#pendingConnack = null
          break
        case 9: {
          let pos = start + 2
          if (v5) pos = skipProperties(buf, pos)
          this.#pendingSub?.(Array.from(buf.subarray(pos, end)))
          this.#pendingSub = null
          break
        }
      }
    })
    let failure: Error | null = null
    stream.on('data', (chunk: Buffer) => {
      try {
        reader.push(chunk)
      } catch (err) {
        failure = err as Error
        stream.destroy()
        return
      }
      if (acks.length > 0) {
        this.stream.write(pubackBytes(acks))
        acks.length = 0
      }
    })
    stream.on('error', (err) => {
      failure ??= err
    })
    stream.on('close', () => {
      this.closed = true
      this.onClose(this.#closing ? null : (failure ?? new Error('connection closed by server')))
    })
  }

  /**
   * Opens a connection and completes CONNECT/CONNACK. `connectMs` spans TCP
   * (or WebSocket) connect to CONNACK.
   */
  static async open(
    target: Target,
    opts: ConnectOptions,
  ): Promise<{ client: LoadClient; connectMs: number }> {
    const t0 = performance.now()
    const stream = await openStream(target, opts.localAddress, opts.timeoutMs)
    const client = new LoadClient(stream, opts.protocolVersion)
    const code = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(
        () => fail(new Error(`no CONNACK within ${opts.timeoutMs} ms`)),
        opts.timeoutMs,
      )
      const fail = (err: Error) => {
        clearTimeout(timer)
        client.#pendingConnack = null
        stream.destroy()
        reject(err)
      }
      client.#pendingConnack = (rc) => {
        clearTimeout(timer)
        resolve(rc)
      }
      client.onClose = (err) => fail(err ?? new Error('closed before CONNACK'))
      stream.write(
        mqttPacket.generate({
          cmd: 'connect',
          protocolId: 'MQTT',
          protocolVersion: opts.protocolVersion,
          clientId: opts.clientId,
          clean: opts.clean,
          keepalive: opts.keepalive,
        }),
      )
    })
    client.onClose = () => {}
    if (code !== 0) {
      stream.destroy()
      throw new Error(`CONNACK refused with code ${code}`)
    }
    return { client, connectMs: performance.now() - t0 }
  }

  /** Subscribes and resolves with the granted codes. */
  subscribe(topic: string, qos: 0 | 1 | 2, timeoutMs = 10_000): Promise<number[]> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no SUBACK for ${topic}`)), timeoutMs)
      this.#pendingSub = (granted) => {
        clearTimeout(timer)
        if (granted.some((g) => g >= 0x80)) reject(new Error(`subscription to ${topic} refused: ${granted}`))
        else resolve(granted)
      }
      const messageId = this.#nextId++
      this.stream.write(
        mqttPacket.generate(
          { cmd: 'subscribe', messageId, subscriptions: [{ topic, qos }] } as mqttPacket.Packet,
          {
            protocolVersion: this.protocolVersion,
          },
        ),
      )
    })
  }

  write(bytes: Buffer | Uint8Array): boolean {
    return this.stream.write(bytes)
  }

  /** Resolves when the stream's write buffer has drained (or it closed). */
  drain(): Promise<void> {
    if (!this.stream.writableNeedDrain || this.closed) return Promise.resolve()
    return new Promise((resolve) => {
      const done = () => {
        this.stream.removeListener('drain', done)
        this.stream.removeListener('close', done)
        resolve()
      }
      this.stream.once('drain', done)
      this.stream.once('close', done)
    })
  }

  ping(): void {
    if (!this.closed) this.stream.write(PINGREQ)
  }

  /** Sends DISCONNECT and ends the stream. */
  close(): void {
    if (this.closed || this.#closing) return
    this.#closing = true
    this.stream.end(DISCONNECT)
    // a server that never closes its side must not keep the generator alive
    setTimeout(() => this.stream.destroy(), 2000).unref()
  }

  destroy(): void {
    this.#closing = true
    this.stream.destroy()
  }
}

const PINGREQ = Buffer.from([0xc0, 0])
const DISCONNECT = Buffer.from([0xe0, 0])

function pubackBytes(ids: number[]): Buffer {
  const buf = Buffer.allocUnsafe(ids.length * 4)
  for (let i = 0; i < ids.length; i++) {
    const id = ids[i]!
    buf[i * 4] = 0x40
    buf[i * 4 + 1] = 2
    buf[i * 4 + 2] = id >> 8
    buf[i * 4 + 3] = id & 255
  }
  return buf
}
