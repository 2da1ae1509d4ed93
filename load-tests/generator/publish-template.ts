/**
 * Pre-encoded PUBLISH packets. The packet is generated once; each message
 * copies it and writes only the packet id and a 16-byte stamp into the
 * payload, so the generator spends its CPU on sockets, not on encoding.
 *
 * Payload stamp: [0..8) send time in µs (float64, process.hrtime clock, shared
 * by all threads and processes on the machine), [8..12) publisher index,
 * [12..16) sequence number.
 */
import mqttPacket from 'mqtt-packet'

export const STAMP_BYTES = 16

/** Microseconds on the monotonic clock every thread and process here shares. */
export function nowUs(): number {
  return Number(process.hrtime.bigint() / 1000n)
}

export class PublishTemplate {
  readonly bytes: Buffer
  readonly length: number
  readonly #payloadOffset: number
  readonly #idOffset: number
  readonly qos: 0 | 1

  constructor(topic: string, payloadSize: number, qos: 0 | 1, protocolVersion: 4 | 5) {
    if (payloadSize < STAMP_BYTES) throw new Error(`payload size must be at least ${STAMP_BYTES} bytes`)
    this.qos = qos
    const payload = Buffer.alloc(payloadSize, 0x61)
    this.bytes = mqttPacket.generate(
      { cmd: 'publish', topic, payload, qos, messageId: qos > 0 ? 1 : undefined, retain: false, dup: false },
      { protocolVersion },
    )
    this.length = this.bytes.length
    this.#payloadOffset = this.length - payloadSize
    let headerLength = 2
    while (this.bytes[headerLength - 1]! & 0x80) headerLength++
    this.#idOffset = headerLength + 2 + Buffer.byteLength(topic)
  }

  /** Writes one packet into `dst` at `offset`. */
  write(
    dst: Buffer,
    offset: number,
    sentUs: number,
    publisher: number,
    seq: number,
    messageId: number,
  ): void {
    this.bytes.copy(dst, offset)
    if (this.qos > 0) dst.writeUInt16BE(messageId, offset + this.#idOffset)
    const p = offset + this.#payloadOffset
    dst.writeDoubleLE(sentUs, p)
    dst.writeUInt32LE(publisher, p + 8)
    dst.writeUInt32LE(seq, p + 12)
  }
}

/** Reads the stamp back from a received payload. */
export function readStamp(payload: Buffer): { sentUs: number; publisher: number; seq: number } | null {
  if (payload.length < STAMP_BYTES) return null
  return {
    sentUs: payload.readDoubleLE(0),
    publisher: payload.readUInt32LE(8),
    seq: payload.readUInt32LE(12),
  }
}
