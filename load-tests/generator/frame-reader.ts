/**
 * Splits the inbound byte stream into MQTT packets without building objects:
 * the handler gets the packet type, flags and the body's position in a
 * buffer. The generator only reads CONNACK, SUBACK, PUBLISH, PUBACK and
 * PINGRESP, and at high rates mqtt-packet's per-packet objects would make the
 * generator, not the server, the bottleneck.
 */

export type FrameHandler = (type: number, flags: number, buf: Buffer, start: number, end: number) => void

/** Largest packet the generator accepts from a server (it only expects small ones). */
const MAX_PACKET = 16 * 1024 * 1024

export class FrameReader {
  #pending: Buffer | null = null
  readonly #onFrame: FrameHandler

  constructor(onFrame: FrameHandler) {
    this.#onFrame = onFrame
  }

  /** Feeds a chunk; calls the handler for every packet it completes. Throws on a malformed length. */
  push(chunk: Buffer): void {
    const buf = this.#pending ? Buffer.concat([this.#pending, chunk]) : chunk
    this.#pending = null
    let off = 0
    const n = buf.length
    while (n - off >= 2) {
      let len = 0
      let mult = 1
      let i = off + 1
      let complete = false
      for (; i < n && i - off <= 4; i++) {
        const d = buf[i]!
        len += (d & 127) * mult
        mult *= 128
        if ((d & 128) === 0) {
          complete = true
          i++
          break
        }
      }
      if (!complete) {
        if (i - off > 4) throw new Error('malformed remaining length from server')
        break
      }
      if (len > MAX_PACKET) throw new Error(`packet of ${len} bytes from server exceeds ${MAX_PACKET}`)
      if (i + len > n) break
      this.#onFrame(buf[off]! >> 4, buf[off]! & 15, buf, i, i + len)
      off = i + len
    }
    if (off < n) this.#pending = Buffer.from(buf.subarray(off))
  }
}

/** Skips a v5 property block at `pos`; returns the position after it. */
export function skipProperties(buf: Buffer, pos: number): number {
  let len = 0
  let mult = 1
  for (let k = 0; k < 4; k++) {
    const d = buf[pos++]!
    len += (d & 127) * mult
    mult *= 128
    if ((d & 128) === 0) break
  }
  return pos + len
}
