/**
 * The stored form of a message (the `body` of outbound and retained rows):
 * fixed fields and lengths in a few bytes, the payload as it is, and the rare
 * v5 properties as JSON. It replaced `v8.serialize`, which took 13% of a
 * worker's time under a QoS 1 flood to persistent sessions. Rows written by
 * `v8.serialize` (they begin with its version tag, 0xFF) still decode.
 */
import { deserialize } from 'node:v8'
import type { BrokerMessage, MessageProperties, QoS } from '../message.ts'

/** What an outbound row keeps of a delivery (a retained row: the message at its own QoS). */
export interface StoredBody {
  message: BrokerMessage
  qos: QoS
  retain: boolean
  subscriptionIds: number[] | undefined
}

const VERSION = 1
const V8_TAG = 0xff
const RETAIN = 1
const MESSAGE_RETAIN = 2
const EXPIRES = 4
const SUBSCRIPTION_IDS = 8
const PROPERTIES = 16
/** In a run (outbound-runs.ts): the topic, or the origin, is the previous message's; left out. */
const SAME_TOPIC = 32
const SAME_ORIGIN = 64

type StoredProperties = Omit<MessageProperties, 'correlationData'> & { correlationData?: string }

function propertiesJson(props: MessageProperties): string {
  const out: StoredProperties = { ...props, correlationData: undefined }
  if (props.correlationData !== undefined)
    out.correlationData = Buffer.from(props.correlationData).toString('base64')
  return JSON.stringify(out)
}

/**
 * Encodes into one scratch buffer per writer: the bytes are copied by SQLite
 * when the statement runs, so each row costs no allocation of its own.
 */
export class BodyWriter {
  #scratch = Buffer.allocUnsafeSlow(4096)

  /**
   * The encoded body: a view of the scratch buffer, valid until the next call. With `previous`
   * (the message before it in a run), a topic or origin equal to its own is left out: a run mostly
   * holds one publisher's messages to one topic, and decoding needs the same `previous`.
   */
  encode(body: StoredBody, previous?: BrokerMessage): Uint8Array {
    const { message } = body
    const sameTopic = previous !== undefined && previous.topic === message.topic
    const sameOrigin = previous !== undefined && previous.origin === message.origin
    const props = message.properties === undefined ? undefined : propertiesJson(message.properties)
    const ids = body.subscriptionIds
    // An upper bound (a UTF-16 unit is at most 3 UTF-8 bytes): no byteLength pass over the strings
    const bound =
      3 +
      4 +
      3 * message.topic.length +
      4 +
      3 * message.origin.length +
      4 +
      message.payload.byteLength +
      (message.expiresAt === undefined ? 0 : 8) +
      (ids === undefined ? 0 : 4 + 4 * ids.length) +
      (props === undefined ? 0 : 4 + 3 * props.length)
    if (bound > this.#scratch.length) this.#scratch = Buffer.allocUnsafeSlow(2 ** Math.ceil(Math.log2(bound)))
    const b = this.#scratch
    b[0] = VERSION
    b[1] =
      (body.retain ? RETAIN : 0) |
      (message.retain ? MESSAGE_RETAIN : 0) |
      (message.expiresAt === undefined ? 0 : EXPIRES) |
      (ids === undefined ? 0 : SUBSCRIPTION_IDS) |
      (props === undefined ? 0 : PROPERTIES) |
      (sameTopic ? SAME_TOPIC : 0) |
      (sameOrigin ? SAME_ORIGIN : 0)
    b[2] = body.qos | (message.qos << 2)
    let at = sameTopic ? 3 : writeText(b, message.topic, 3)
    if (!sameOrigin) at = writeText(b, message.origin, at)
    b.writeUInt32LE(message.payload.byteLength, at)
    b.set(message.payload, at + 4)
    at += 4 + message.payload.byteLength
    if (message.expiresAt !== undefined) {
      b.writeDoubleLE(message.expiresAt, at)
      at += 8
    }
    if (ids !== undefined) {
      b.writeUInt32LE(ids.length, at)
      at += 4
      for (const id of ids) {
        b.writeUInt32LE(id, at)
        at += 4
      }
    }
    if (props !== undefined) at = writeText(b, props, at)
    return b.subarray(0, at)
  }
}

/**
 * Writes `value` as its UTF-8 length (u32 LE) and bytes at `at`; returns the
 * offset after it. Topics and client ids are mostly ASCII: a byte per unit in
 * JS costs less than a call into the encoder for a string this short.
 */
function writeText(b: Buffer, value: string, at: number): number {
  const start = at + 4
  const n = value.length
  let i = 0
  for (; i < n; i++) {
    const c = value.charCodeAt(i)
    if (c > 0x7f) break
    b[start + i] = c
  }
  const bytes = i === n ? n : b.write(value, start)
  b.writeUInt32LE(bytes, at)
  return start + bytes
}

/**
 * Decodes a stored body (this format, or a row written with `v8.serialize`); `previous` is the
 * message decoded before it in the same run, as given to `encode`.
 */
export function decodeBody(bytes: Uint8Array, previous?: BrokerMessage): StoredBody {
  if (bytes[0] === V8_TAG) return deserialize(bytes) as StoredBody
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const flags = b[1]!
  let at = 3
  const text = () => {
    const n = b.readUInt32LE(at)
    const value = b.toString('utf8', at + 4, at + 4 + n)
    at += 4 + n
    return value
  }
  const topic = flags & SAME_TOPIC ? previous!.topic : text()
  const origin = flags & SAME_ORIGIN ? previous!.origin : text()
  const length = b.readUInt32LE(at)
  // a copy of its own: the row's buffer is not kept alive by the message
  const payload = Buffer.from(b.subarray(at + 4, at + 4 + length))
  at += 4 + length
  let expiresAt: number | undefined
  if (flags & EXPIRES) {
    expiresAt = b.readDoubleLE(at)
    at += 8
  }
  let subscriptionIds: number[] | undefined
  if (flags & SUBSCRIPTION_IDS) {
    const count = b.readUInt32LE(at)
    at += 4
    subscriptionIds = []
    for (let i = 0; i < count; i++, at += 4) subscriptionIds.push(b.readUInt32LE(at))
  }
  let properties: MessageProperties | undefined
  if (flags & PROPERTIES) {
    const stored = JSON.parse(text()) as StoredProperties
    const { correlationData, ...rest } = stored
    properties =
      correlationData === undefined
        ? rest
        : { ...rest, correlationData: Buffer.from(correlationData, 'base64') }
  }
  const message: BrokerMessage = {
    topic,
    payload,
    qos: ((b[2]! >> 2) & 3) as QoS,
    retain: (flags & MESSAGE_RETAIN) !== 0,
    properties,
    expiresAt,
    origin,
  }
  return { message, qos: (b[2]! & 3) as QoS, retain: (flags & RETAIN) !== 0, subscriptionIds }
}
