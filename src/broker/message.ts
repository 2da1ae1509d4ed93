/**
 * The broker's application message: what a PUBLISH (or a will) becomes once
 * accepted, independent of the publisher's connection. It is plain data so it
 * can cross `postMessage` between workers unchanged.
 */
import type { IPublishPacket } from 'mqtt-packet'

export type QoS = 0 | 1 | 2

/** The PUBLISH properties a message carries to its receivers (5.0 §3.3.2.3). */
export interface MessageProperties {
  payloadFormatIndicator?: boolean
  contentType?: string
  responseTopic?: string
  correlationData?: Uint8Array
  userProperties?: Record<string, string | string[]>
}

export interface BrokerMessage {
  topic: string
  payload: Uint8Array
  qos: QoS
  retain: boolean
  properties: MessageProperties | undefined
  /** Absolute expiry (ms since epoch) from the v5 Message Expiry Interval, when set. */
  expiresAt: number | undefined
  /** Client id of the publisher, for No Local [5.0 MQTT-3.8.3-3]. */
  origin: string
  /**
   * In a cluster, a QoS 1/2 message published on this node: its id in the
   * stream (the bridge's `<node>|<link>|<seq>`), so this node's workers can
   * match the stream's copy with what their persistent sessions hold.
   */
  id?: string
}

/**
 * Copies a byte view into a buffer of its own. A parsed payload is often a
 * slice of a large socket chunk, and structured clone copies the whole
 * underlying ArrayBuffer, so messages keep exact-size copies.
 */
export function ownBytes(bytes: Uint8Array | string): Uint8Array {
  if (typeof bytes === 'string') return Buffer.from(bytes)
  if (bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength) return bytes
  // A Buffer (not a pooled one: its own exact-size ArrayBuffer), so each delivery's PUBLISH takes it as it is
  const copy = Buffer.allocUnsafeSlow(bytes.byteLength)
  copy.set(bytes)
  return copy
}

function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
}

/** The subset of PUBLISH (or will) properties that travels with the message to every receiver. */
interface SourceProperties {
  payloadFormatIndicator?: boolean
  contentType?: string
  responseTopic?: string
  correlationData?: Uint8Array
  userProperties?: Record<string, string | string[]>
}

/**
 * Keeps the properties passed on unchanged to every receiver [5.0 MQTT-3.3.2-4]
 * [5.0 MQTT-3.3.2-15] [5.0 MQTT-3.3.2-16] [5.0 MQTT-3.3.2-17] [5.0 MQTT-3.3.2-20]; undefined when none.
 */
export function carriedProperties(props: SourceProperties | undefined): MessageProperties | undefined {
  if (props === undefined) return undefined
  const out: MessageProperties = {}
  if (props.payloadFormatIndicator !== undefined) out.payloadFormatIndicator = props.payloadFormatIndicator
  if (props.contentType !== undefined) out.contentType = props.contentType
  if (props.responseTopic !== undefined) out.responseTopic = props.responseTopic
  if (props.correlationData !== undefined) out.correlationData = ownBytes(props.correlationData)
  // mqtt-packet cannot write an empty userProperties object
  if (props.userProperties !== undefined && Object.keys(props.userProperties).length > 0) {
    out.userProperties = props.userProperties
  }
  return out
}

/** Builds the message for an accepted PUBLISH (topic alias already resolved). */
export function messageFromPublish(packet: IPublishPacket, origin: string, now: number): BrokerMessage {
  const interval = packet.properties?.messageExpiryInterval
  return {
    topic: packet.topic,
    payload: ownBytes(packet.payload),
    qos: packet.qos,
    retain: packet.retain,
    properties: carriedProperties(packet.properties),
    expiresAt: interval === undefined ? undefined : now + interval * 1000,
    origin,
  }
}

/** Whether the message's expiry interval has passed [5.0 MQTT-3.3.2-5]. */
export function isExpired(message: BrokerMessage, now: number): boolean {
  return message.expiresAt !== undefined && message.expiresAt <= now
}

/** How one receiver gets a message. */
export interface DeliveryOptions {
  qos: QoS
  retain: boolean
  messageId: number | undefined
  dup: boolean
  subscriptionIds: number[] | undefined
  topicAlias: number | undefined
  /** Send an empty topic name with the alias (the client already knows it). */
  aliasOnly: boolean
}

/** Builds the outbound PUBLISH for one receiver of `message`. */
export function toPublishPacket(
  message: BrokerMessage,
  version: number,
  delivery: DeliveryOptions,
  now: number,
): IPublishPacket {
  const packet: IPublishPacket = {
    cmd: 'publish',
    topic: delivery.aliasOnly ? '' : message.topic,
    payload: asBuffer(message.payload),
    qos: delivery.qos,
    retain: delivery.retain,
    dup: delivery.dup,
  }
  if (delivery.qos > 0) packet.messageId = delivery.messageId!
  if (version < 5) return packet
  const properties: NonNullable<IPublishPacket['properties']> = {}
  const mp = message.properties
  if (mp !== undefined) {
    if (mp.payloadFormatIndicator !== undefined) properties.payloadFormatIndicator = mp.payloadFormatIndicator
    if (mp.contentType !== undefined) properties.contentType = mp.contentType
    if (mp.responseTopic !== undefined) properties.responseTopic = mp.responseTopic
    if (mp.correlationData !== undefined) properties.correlationData = asBuffer(mp.correlationData)
    if (mp.userProperties !== undefined) properties.userProperties = mp.userProperties
  }
  if (message.expiresAt !== undefined) {
    // The receiver gets the remaining lifetime, not the original interval [5.0 MQTT-3.3.2-6]
    properties.messageExpiryInterval = Math.max(0, Math.ceil((message.expiresAt - now) / 1000))
  }
  const ids = delivery.subscriptionIds
  if (ids !== undefined && ids.length > 0) {
    // [5.0 MQTT-3.3.4-3] every matching subscription's identifier goes with the message
    properties.subscriptionIdentifier = ids.length === 1 ? ids[0]! : ids
  }
  if (delivery.topicAlias !== undefined) properties.topicAlias = delivery.topicAlias
  if (Object.keys(properties).length > 0) packet.properties = properties
  return packet
}
