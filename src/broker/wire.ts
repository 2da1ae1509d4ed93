/**
 * The binary form of a batch of data messages between two workers (see
 * cluster.ts). A `pub` is written field by field into one growing buffer,
 * which is transferred (not copied) with the batch; other data messages
 * (`direct`, `pub-ok`) travel as cloned objects beside it, with a marker in
 * the byte stream keeping their place. Structured clone of a `pub` object
 * costs a dozen objects and a fresh ArrayBuffer for its payload on each side;
 * here the sender copies topic, origin and payload bytes once and the
 * receiver builds only the objects the broker uses.
 *
 * Record layout (little endian):
 * - u8 kind: 1 = pub, 2 = the next object of the side list; a pub's kind byte
 *   also carries bit 4 (its topic is the previous pub's of this batch: not
 *   written) and bit 5 (the same for its origin). A batch often holds runs of
 *   one publisher's messages to one topic (one socket read's worth), and each
 *   string costs an encode here and a decode and an allocation there.
 * - pub: u8 flags (bits 0-1 QoS, 2 retain, 3 sharedOnly, 4 id, 5 expiry,
 *   6 properties, 7 shared), u32 from, f64 fromSeq, u16 n, n × (u32 to,
 *   f64 seen), [f64 id], [f64 expiresAt], [u16 topic bytes, topic],
 *   [u16 origin bytes, origin], u16 stream id bytes, stream id (a cluster's
 *   QoS 1/2 message id, nats-bridge.ts; 0 bytes: none), u32 payload bytes, payload,
 *   [u32 bytes, v8-serialized properties], [u32 bytes, JSON of `shared`]
 *
 * The sequences (`fromSeq`, `seen`) and the backpressure id only grow for as long as a worker lives: a
 * u32 would run out after 2^32 subscription changes or cross-worker QoS 1/2 messages (hours of QoS 1
 * traffic), so they travel as f64, exact to 2^53. Numbers go through a DataView, which optimized
 * code reads and writes inline; Buffer's read/write methods check their arguments on every call.
 */
import { deserialize, serialize } from 'node:v8'
import type { ClusterMessage } from './cluster-message.ts'
import type { BrokerMessage, MessageProperties, QoS } from './message.ts'

type PubMessage = Extract<ClusterMessage, { t: 'pub' }>

/** `shared` of a `pub` for one worker and no share group, the usual case (never modified). */
const ONE_UNSHARED: PubMessage['shared'] = [null]

const KIND_PUB = 1
const KIND_OBJECT = 2
const KIND_MASK = 0x0f
const SAME_TOPIC = 16
const SAME_ORIGIN = 32

function viewOf(buf: Buffer): DataView {
  return new DataView(buf.buffer, buf.byteOffset, buf.length)
}

/** What crosses the port for one batch. */
export interface WireBatch {
  /** The byte stream (transferred). */
  b: ArrayBuffer
  /** Its length in bytes. */
  n: number
  /** Non-`pub` messages, in their order in the stream. */
  o: ClusterMessage[]
}

/** Builds one batch; `take()` hands it over and starts the next. */
export class BatchWriter {
  #buf = Buffer.allocUnsafeSlow(16_384)
  #view = viewOf(this.#buf)
  #pos = 0
  #objects: ClusterMessage[] = []
  /** The previous pub's topic and origin in this batch (undefined: none yet). */
  #topic: string | undefined
  #origin: string | undefined
  count = 0

  /** Bytes written so far. */
  get bytes(): number {
    return this.#pos
  }

  #room(bytes: number): void {
    if (this.#pos + bytes <= this.#buf.length) return
    let size = this.#buf.length * 2
    while (size < this.#pos + bytes) size *= 2
    const next = Buffer.allocUnsafeSlow(size)
    this.#buf.copy(next, 0, 0, this.#pos)
    this.#buf = next
    this.#view = viewOf(next)
  }

  push(m: ClusterMessage): void {
    this.count++
    if (m.t !== 'pub') {
      this.#room(1)
      this.#buf[this.#pos++] = KIND_OBJECT
      this.#objects.push(m)
      return
    }
    const message = m.message
    const props = message.properties === undefined ? undefined : serialize(message.properties)
    const shared = m.shared.some((s) => s !== null) ? Buffer.from(JSON.stringify(m.shared)) : undefined
    const sameTopic = message.topic === this.#topic
    const sameOrigin = message.origin === this.#origin
    this.#topic = message.topic
    this.#origin = message.origin
    const topicBytes = sameTopic ? 0 : Buffer.byteLength(message.topic)
    const originBytes = sameOrigin ? 0 : Buffer.byteLength(message.origin)
    const streamIdBytes = message.id === undefined ? 0 : Buffer.byteLength(message.id)
    const payload = message.payload
    this.#room(
      2 +
        4 +
        8 +
        2 +
        12 * m.to.length +
        8 +
        8 +
        2 +
        topicBytes +
        2 +
        originBytes +
        2 +
        streamIdBytes +
        4 +
        payload.byteLength +
        (props === undefined ? 0 : 4 + props.length) +
        (shared === undefined ? 0 : 4 + shared.length),
    )
    const buf = this.#buf
    let p = this.#pos
    buf[p++] = KIND_PUB | (sameTopic ? SAME_TOPIC : 0) | (sameOrigin ? SAME_ORIGIN : 0)
    buf[p++] =
      message.qos |
      (message.retain ? 4 : 0) |
      (m.sharedOnly === true ? 8 : 0) |
      (m.id === undefined ? 0 : 16) |
      (message.expiresAt === undefined ? 0 : 32) |
      (props === undefined ? 0 : 64) |
      (shared === undefined ? 0 : 128)
    const view = this.#view
    view.setUint32(p, m.from, true)
    view.setFloat64(p + 4, m.fromSeq, true)
    view.setUint16(p + 12, m.to.length, true)
    p += 14
    for (let i = 0; i < m.to.length; i++) {
      view.setUint32(p, m.to[i]!, true)
      view.setFloat64(p + 4, m.seen[i]!, true)
      p += 12
    }
    if (m.id !== undefined) {
      view.setFloat64(p, m.id, true)
      p += 8
    }
    if (message.expiresAt !== undefined) {
      view.setFloat64(p, message.expiresAt, true)
      p += 8
    }
    if (!sameTopic) {
      view.setUint16(p, topicBytes, true)
      p += 2 + buf.write(message.topic, p + 2, topicBytes, 'utf8')
    }
    if (!sameOrigin) {
      view.setUint16(p, originBytes, true)
      p += 2 + buf.write(message.origin, p + 2, originBytes, 'utf8')
    }
    view.setUint16(p, streamIdBytes, true)
    p += 2
    if (streamIdBytes > 0) p += buf.write(message.id!, p, streamIdBytes, 'utf8')
    view.setUint32(p, payload.byteLength, true)
    p += 4
    buf.set(payload, p)
    p += payload.byteLength
    if (props !== undefined) {
      view.setUint32(p, props.length, true)
      p += 4
      buf.set(props, p)
      p += props.length
    }
    if (shared !== undefined) {
      view.setUint32(p, shared.length, true)
      p += 4
      buf.set(shared, p)
      p += shared.length
    }
    this.#pos = p
  }

  /** The batch so far (its buffer is to be transferred); the writer starts a new one. */
  take(): WireBatch {
    const batch: WireBatch = { b: this.#buf.buffer as ArrayBuffer, n: this.#pos, o: this.#objects }
    this.#buf = Buffer.allocUnsafeSlow(Math.max(16_384, Math.min(this.#buf.length, 1 << 20)))
    this.#view = viewOf(this.#buf)
    this.#pos = 0
    this.#objects = []
    this.#topic = undefined
    this.#origin = undefined
    this.count = 0
    return batch
  }
}

/** Hands every message of `batch` to `each`, in order. */
export function readBatch(batch: WireBatch, each: (m: ClusterMessage) => void): void {
  const buf = Buffer.from(batch.b, 0, batch.n)
  const view = new DataView(batch.b, 0, batch.n)
  let next = 0
  let p = 0
  let topic = ''
  let origin = ''
  while (p < batch.n) {
    const kind = buf[p++]!
    if (kind === KIND_OBJECT) {
      each(batch.o[next++]!)
      continue
    }
    if ((kind & KIND_MASK) !== KIND_PUB) throw new Error(`broker wire: unknown record kind ${kind}`)
    const flags = buf[p++]!
    const from = view.getUint32(p, true)
    const fromSeq = view.getFloat64(p + 4, true)
    const n = view.getUint16(p + 12, true)
    p += 14
    const to = new Array<number>(n)
    const seen = new Array<number>(n)
    for (let i = 0; i < n; i++) {
      to[i] = view.getUint32(p, true)
      seen[i] = view.getFloat64(p + 4, true)
      p += 12
    }
    let id: number | undefined
    if ((flags & 16) !== 0) {
      id = view.getFloat64(p, true)
      p += 8
    }
    let expiresAt: number | undefined
    if ((flags & 32) !== 0) {
      expiresAt = view.getFloat64(p, true)
      p += 8
    }
    if ((kind & SAME_TOPIC) === 0) {
      const topicBytes = view.getUint16(p, true)
      p += 2
      topic = buf.toString('utf8', p, p + topicBytes)
      p += topicBytes
    }
    if ((kind & SAME_ORIGIN) === 0) {
      const originBytes = view.getUint16(p, true)
      p += 2
      origin = buf.toString('utf8', p, p + originBytes)
      p += originBytes
    }
    const streamIdBytes = view.getUint16(p, true)
    p += 2
    const streamId = streamIdBytes === 0 ? undefined : buf.toString('utf8', p, p + streamIdBytes)
    p += streamIdBytes
    const payloadBytes = view.getUint32(p, true)
    p += 4
    const qos = (flags & 3) as QoS
    const retain = (flags & 4) !== 0
    // A QoS 0 message is written out or dropped at once: a view will do; anything kept gets its own
    // bytes. A Buffer, so each delivery's PUBLISH takes it as it is (message.ts asBuffer)
    const payload =
      qos === 0 && !retain
        ? Buffer.from(batch.b, p, payloadBytes)
        : Buffer.from(batch.b.slice(p, p + payloadBytes))
    p += payloadBytes
    let properties: MessageProperties | undefined
    if ((flags & 64) !== 0) {
      const len = view.getUint32(p, true)
      properties = deserialize(buf.subarray(p + 4, p + 4 + len)) as MessageProperties
      p += 4 + len
    }
    let shared: PubMessage['shared']
    if ((flags & 128) !== 0) {
      const len = view.getUint32(p, true)
      shared = JSON.parse(buf.toString('utf8', p + 4, p + 4 + len)) as PubMessage['shared']
      p += 4 + len
    } else shared = n === 1 ? ONE_UNSHARED : new Array(n).fill(null)
    const message: BrokerMessage = { topic, payload, qos, retain, properties, expiresAt, origin }
    if (streamId !== undefined) message.id = streamId
    const pub: PubMessage = { t: 'pub', from, fromSeq, to, seen, shared, message }
    if ((flags & 8) !== 0) pub.sharedOnly = true
    if (id !== undefined) pub.id = id
    each(pub)
  }
}
