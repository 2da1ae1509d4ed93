/**
 * Will messages: what CONNECT asked for, turned into a message when it is
 * published (its expiry interval counts from then).
 */
import type { IConnectPacket } from 'mqtt-packet'
import { type BrokerMessage, carriedProperties, type MessageProperties, ownBytes } from './message.ts'

export interface Will {
  topic: string
  payload: Uint8Array
  qos: 0 | 1 | 2
  retain: boolean
  properties: MessageProperties | undefined
  /** v5 Will Delay Interval in seconds; 0 for v3.1.1. */
  delay: number
  expiryInterval: number | undefined
}

export function willFromConnect(packet: IConnectPacket): Will | undefined {
  const will = packet.will
  if (will === undefined) return undefined
  const p = will.properties
  return {
    topic: will.topic,
    payload: ownBytes(will.payload),
    qos: will.qos ?? 0,
    retain: will.retain ?? false,
    properties: carriedProperties(p),
    delay: p?.willDelayInterval ?? 0,
    expiryInterval: p?.messageExpiryInterval,
  }
}

export function willMessage(will: Will, clientId: string, now: number): BrokerMessage {
  return {
    topic: will.topic,
    payload: will.payload,
    qos: will.qos,
    retain: will.retain,
    properties: will.properties,
    expiresAt: will.expiryInterval === undefined ? undefined : now + will.expiryInterval * 1000,
    origin: clientId,
  }
}
