/**
 * A broker message as it travels on NATS: the payload as is (so a native NATS
 * subscriber reads it), the rest in headers only when it differs from the
 * defaults; a retained message in the key-value bucket as one value (a
 * length-prefixed JSON header, then the payload).
 */
import { headers, type MsgHdrs } from '@nats-io/transport-node'
import { META_HEADER, SOURCE_HEADER, TOPIC_HEADER } from '../cluster/names.ts'
import { subjectToTopic } from '../cluster/subjects.ts'
import type { BrokerMessage, MessageProperties, QoS } from './message.ts'

interface Meta {
  /** QoS (absent: 0). */
  q?: QoS
  /** Retain flag as published (for Retain As Published). */
  r?: 1
  /** Absolute expiry, ms since epoch. */
  x?: number
  /** v5 properties; correlation data as base64. */
  p?: Omit<MessageProperties, 'correlationData'> & { correlationData?: string }
}

function metaOf(message: BrokerMessage): Meta | undefined {
  if (
    message.qos === 0 &&
    !message.retain &&
    message.expiresAt === undefined &&
    message.properties === undefined
  )
    return undefined
  const meta: Meta = {}
  if (message.qos !== 0) meta.q = message.qos
  if (message.retain) meta.r = 1
  if (message.expiresAt !== undefined) meta.x = message.expiresAt
  const props = message.properties
  if (props !== undefined) {
    const { correlationData, ...rest } = props
    meta.p =
      correlationData === undefined
        ? rest
        : { ...rest, correlationData: Buffer.from(correlationData).toString('base64') }
  }
  return meta
}

function fromMeta(topic: string, payload: Uint8Array, meta: Meta | undefined): BrokerMessage {
  let properties: MessageProperties | undefined
  if (meta?.p !== undefined) {
    const { correlationData, ...rest } = meta.p
    properties =
      correlationData === undefined
        ? rest
        : { ...rest, correlationData: Buffer.from(correlationData, 'base64') }
  }
  return {
    topic,
    payload,
    qos: meta?.q ?? 0,
    retain: meta?.r === 1,
    properties,
    expiresAt: meta?.x,
    // another node's client: No Local never applies here
    origin: '',
  }
}

/** The headers of a message published by this worker (`source`: `<node>|<link>|<seq>`). */
export function messageHeaders(message: BrokerMessage, source: string, exact: boolean): MsgHdrs {
  const h = headers()
  h.set(SOURCE_HEADER, source)
  if (!exact) h.set(TOPIC_HEADER, message.topic)
  const meta = metaOf(message)
  if (meta !== undefined) h.set(META_HEADER, JSON.stringify(meta))
  return h
}

/** A message read from NATS; `subject` without mqttd's prefix. Native NATS publishers (no headers) work too. */
export function messageFrom(subject: string, data: Uint8Array, h: MsgHdrs | undefined): BrokerMessage {
  const topic = h?.get(TOPIC_HEADER) || subjectToTopic(subject)
  const raw = h?.get(META_HEADER)
  return fromMeta(topic, data, raw ? (JSON.parse(raw) as Meta) : undefined)
}

/** A retained message as a key-value entry. */
export function retainedValue(message: BrokerMessage): Uint8Array {
  const head = Buffer.from(JSON.stringify({ t: message.topic, ...metaOf(message) }))
  const out = Buffer.allocUnsafe(4 + head.length + message.payload.byteLength)
  out.writeUInt32BE(head.length, 0)
  head.copy(out, 4)
  out.set(message.payload, 4 + head.length)
  return out
}

export function retainedFrom(value: Uint8Array): BrokerMessage {
  const buf = Buffer.from(value.buffer, value.byteOffset, value.byteLength)
  const length = buf.readUInt32BE(0)
  const head = JSON.parse(buf.subarray(4, 4 + length).toString()) as Meta & { t: string }
  // its own bytes: the store keeps it
  return fromMeta(head.t, new Uint8Array(buf.subarray(4 + length)), head)
}
