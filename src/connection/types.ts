/**
 * Types of the Connection: packets (as mqtt-packet parses them), the options of
 * every send method, the constructor options and the event map.
 *
 * Packet shapes reuse mqtt-packet's own interfaces where they are right; a
 * received packet also carries the fixed-header fields the parser always sets.
 * @module
 */

import type { Readable } from 'node:stream'
import type {
  IAuthPacket,
  IConnackPacket,
  IConnectPacket,
  IDisconnectPacket,
  IPingreqPacket,
  IPingrespPacket,
  IPubackPacket,
  IPubcompPacket,
  IPublishPacket,
  IPubrecPacket,
  IPubrelPacket,
  ISubackPacket,
  ISubscribePacket,
  ISubscription,
  IUnsubackPacket,
  IUnsubscribePacket,
  PacketCmd,
  QoS,
  UserProperties,
} from 'mqtt-packet'
import type { MqttdError } from '../errors.ts'

/** MQTT protocol level: 3 (3.1), 4 (3.1.1) or 5 (shared with the handler contract). */
export type { ISubscription as Subscription, PacketCmd, QoS, UserProperties }

/** MQTT protocol level: 3 = 3.1, 4 = 3.1.1, 5 = 5.0. */
export type ProtocolVersion = 3 | 4 | 5

/** Fixed-header fields mqtt-packet's parser sets on every packet it emits. */
export interface ReceivedHeader {
  retain: boolean
  qos: QoS
  dup: boolean
  /** Remaining length from the fixed header. */
  length: number
  topic: string | null
  payload: Buffer | null
}

type Received<T> = Omit<T, keyof ReceivedHeader> & ReceivedHeader

export type ConnectPacket = Received<IConnectPacket> & {
  protocolId: 'MQTT' | 'MQIsdp'
  protocolVersion: ProtocolVersion
  /** Set when the protocol level had the bridge bit (0x80). */
  bridgeMode?: boolean
  clean: boolean
  keepalive: number
  password?: Buffer
}
export type ConnackPacket = Received<IConnackPacket>
export type PublishPacket = Received<Omit<IPublishPacket, 'topic' | 'payload'>> & {
  topic: string
  payload: Buffer
}
export type PubackPacket = Received<IPubackPacket>
export type PubrecPacket = Received<IPubrecPacket>
export type PubrelPacket = Received<IPubrelPacket>
export type PubcompPacket = Received<IPubcompPacket>
export type SubscribePacket = Received<ISubscribePacket>
export type SubackPacket = Received<ISubackPacket>
export type UnsubscribePacket = Received<IUnsubscribePacket>
export type UnsubackPacket = Received<IUnsubackPacket>
export type PingreqPacket = Received<IPingreqPacket>
export type PingrespPacket = Received<IPingrespPacket>
export type DisconnectPacket = Received<IDisconnectPacket>
export type AuthPacket = Received<IAuthPacket>

/** Every packet type, as received. */
export type Packet =
  | ConnectPacket
  | ConnackPacket
  | PublishPacket
  | PubackPacket
  | PubrecPacket
  | PubrelPacket
  | PubcompPacket
  | SubscribePacket
  | SubackPacket
  | UnsubscribePacket
  | UnsubackPacket
  | PingreqPacket
  | PingrespPacket
  | DisconnectPacket
  | AuthPacket

/** Maps a command name to the packet received for it. */
export interface PacketByCmd {
  connect: ConnectPacket
  connack: ConnackPacket
  publish: PublishPacket
  puback: PubackPacket
  pubrec: PubrecPacket
  pubrel: PubrelPacket
  pubcomp: PubcompPacket
  subscribe: SubscribePacket
  suback: SubackPacket
  unsubscribe: UnsubscribePacket
  unsuback: UnsubackPacket
  pingreq: PingreqPacket
  pingresp: PingrespPacket
  disconnect: DisconnectPacket
  auth: AuthPacket
}

// Send options: the packet without `cmd` (the method names it); `cmd` is accepted and ignored.
type SendOptions<T> = Omit<T, 'cmd'> & { cmd?: PacketCmd }

export type ConnectOptions = SendOptions<Omit<IConnectPacket, 'clientId' | 'password'>> & {
  clientId?: string
  password?: Buffer | string
}
export type ConnackOptions = SendOptions<Omit<IConnackPacket, 'sessionPresent'>> & {
  sessionPresent?: boolean
}
export type PublishOptions = SendOptions<Omit<IPublishPacket, 'qos' | 'dup' | 'retain' | 'payload'>> & {
  qos?: QoS
  dup?: boolean
  retain?: boolean
  payload?: Buffer | string
}
export type PubackOptions = SendOptions<IPubackPacket>
export type PubrecOptions = SendOptions<IPubrecPacket>
export type PubrelOptions = SendOptions<IPubrelPacket> & { dup?: boolean }
export type PubcompOptions = SendOptions<IPubcompPacket>
export type SubscribeOptions = SendOptions<ISubscribePacket> & { dup?: boolean }
export type SubackOptions = SendOptions<ISubackPacket>
export type UnsubscribeOptions = SendOptions<IUnsubscribePacket> & { dup?: boolean }
export type UnsubackOptions = SendOptions<Omit<IUnsubackPacket, 'granted'>> & { granted?: number[] }
export type PingreqOptions = SendOptions<IPingreqPacket>
export type PingrespOptions = SendOptions<IPingrespPacket>
export type DisconnectOptions = SendOptions<IDisconnectPacket>
export type AuthOptions = SendOptions<Omit<IAuthPacket, 'reasonCode'>> & { reasonCode?: number }

/** Maps a command name to the options its send method takes. */
export interface SendOptionsByCmd {
  connect: ConnectOptions
  connack: ConnackOptions
  publish: PublishOptions
  puback: PubackOptions
  pubrec: PubrecOptions
  pubrel: PubrelOptions
  pubcomp: PubcompOptions
  subscribe: SubscribeOptions
  suback: SubackOptions
  unsubscribe: UnsubscribeOptions
  unsuback: UnsubackOptions
  pingreq: PingreqOptions
  pingresp: PingrespOptions
  disconnect: DisconnectOptions
  auth: AuthOptions
}

/** A packet object as accepted by `write()` / a piped source in `notData` mode. */
export type OutgoingPacket = { [K in PacketCmd]: SendOptionsByCmd[K] & { cmd: K } }[PacketCmd]

/**
 * Callback of a send method: called once the bytes are handed to the raw
 * stream (or with the error that prevented it).
 */
export type SendCallback = (err?: Error | null) => void

/** Options of the Connection constructor. */
export interface ConnectionOptions {
  /**
   * Do not emit packet events; the Connection is then an object-mode Duplex
   * to pipe (readable side: received packets; writable side: packets to send).
   */
  notData?: boolean
  /**
   * Protocol version used until a CONNECT is received (server) and for
   * parsing the CONNACK (client). Default 4.
   */
  protocolVersion?: ProtocolVersion
  /**
   * Largest incoming packet accepted, in bytes of the whole packet (fixed
   * header included). A larger announced length fails with
   * `MQTTD_ERR_PACKET_TOO_LARGE` before its body is buffered. Default: no limit.
   */
  maxPacketSize?: number
}

/** Options of `setOptions()`: a packet (CONNECT or CONNACK) or just a version. */
export interface SetOptionsPacket {
  cmd?: PacketCmd
  protocolVersion?: number
  bridgeMode?: boolean
}

/** Options of `Connection.parseStream()` (same as mqtt-packet's parser). */
export interface ParseStreamOptions {
  protocolVersion?: ProtocolVersion
  maxPacketSize?: number
}

/** Options of `Connection.generateStream()` (same as mqtt-packet's generate). */
export interface GenerateStreamOptions {
  protocolVersion?: ProtocolVersion
}

/** Every event the Connection emits, with its listener arguments. */
export type ConnectionEvents = {
  [K in PacketCmd]: [packet: PacketByCmd[K]]
} & {
  /** Every received packet (normal mode; in `notData` mode the readable side). */
  data: [packet: Packet]
  /** Coded errors (`MqttdError`) from parsing/generating; raw stream errors as they come. */
  error: [err: MqttdError | Error]
  close: []
  end: []
  finish: []
  drain: []
  /** The other stream events of a Duplex (mostly of use in `notData` mode). */
  readable: []
  pause: []
  resume: []
  pipe: [src: Readable]
  unpipe: [src: Readable]
}

export type ConnectionEventName = keyof ConnectionEvents
