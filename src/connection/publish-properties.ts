/**
 * The MQTT 5 properties a PUBLISH may carry (5.0 §3.3.2.3), once: identifier,
 * mqtt-packet's name, wire type. The fast paths (fast-properties.ts) and the
 * packet-size check (packet-size.ts) read it; the size of an encoded
 * property follows from its type ({@link propertySize}).
 */
import { varintSize } from '../mqtt/varint.ts'

/**
 * Wire types (5.0 §1.5): `byte` (mqtt-packet: a boolean), `int16`, `int32`,
 * `string` (UTF-8, 2-byte length), `binary` (2-byte length), `varint`
 * (Variable Byte Integer), `pair` (a UTF-8 string pair).
 */
export type PropertyType = 'byte' | 'int16' | 'int32' | 'string' | 'binary' | 'varint' | 'pair'

export interface PublishProperty {
  readonly id: number
  readonly name: string
  readonly type: PropertyType
  /** May appear more than once (5.0 §3.3.2.3.4: only the subscription identifier and user properties). */
  readonly repeats: boolean
}

export const PUBLISH_PROPERTIES: readonly PublishProperty[] = [
  { id: 0x01, name: 'payloadFormatIndicator', type: 'byte', repeats: false },
  { id: 0x02, name: 'messageExpiryInterval', type: 'int32', repeats: false },
  { id: 0x03, name: 'contentType', type: 'string', repeats: false },
  { id: 0x08, name: 'responseTopic', type: 'string', repeats: false },
  { id: 0x09, name: 'correlationData', type: 'binary', repeats: false },
  { id: 0x0b, name: 'subscriptionIdentifier', type: 'varint', repeats: true },
  { id: 0x23, name: 'topicAlias', type: 'int16', repeats: false },
  { id: 0x26, name: 'userProperties', type: 'pair', repeats: true },
]

/** Wire type codes, for the per-byte lookups of the parse loops (a number compares faster than a string). */
export const T_BYTE = 1
export const T_INT16 = 2
export const T_INT32 = 3
export const T_STRING = 4
export const T_BINARY = 5
export const T_VARINT = 6
export const T_PAIR = 7
const CODE: Record<PropertyType, number> = {
  byte: T_BYTE,
  int16: T_INT16,
  int32: T_INT32,
  string: T_STRING,
  binary: T_BINARY,
  varint: T_VARINT,
  pair: T_PAIR,
}

/** By identifier: the wire type code (0: not a PUBLISH property). */
export const TYPE_BY_ID = new Uint8Array(256)
/** By identifier: a bit for each property that may not repeat (0 for those that may), to spot repeats while scanning. */
export const ONCE_BIT_BY_ID = new Uint8Array(256)
/** By identifier: mqtt-packet's name. */
export const NAME_BY_ID: string[] = []
/**
 * By mqtt-packet's name: `id << 4 | type code` of the PUBLISH property, or
 * undefined. A switch on the name because the encoders ask once per property
 * per packet: V8 compares the interned names by pointer here, where a Map
 * lookup hashes (1.1–1.6× the encode time of a property list, measured).
 * The table is still the one source: checked against it when this module loads.
 */
export function codeOf(name: string): number | undefined {
  switch (name) {
    case 'payloadFormatIndicator':
      return (0x01 << 4) | T_BYTE
    case 'messageExpiryInterval':
      return (0x02 << 4) | T_INT32
    case 'contentType':
      return (0x03 << 4) | T_STRING
    case 'responseTopic':
      return (0x08 << 4) | T_STRING
    case 'correlationData':
      return (0x09 << 4) | T_BINARY
    case 'subscriptionIdentifier':
      return (0x0b << 4) | T_VARINT
    case 'topicAlias':
      return (0x23 << 4) | T_INT16
    case 'userProperties':
      return (0x26 << 4) | T_PAIR
    default:
      return undefined
  }
}

let bit = 1
for (const p of PUBLISH_PROPERTIES) {
  if (codeOf(p.name) !== ((p.id << 4) | CODE[p.type])) {
    throw new Error(`publish-properties.ts: codeOf('${p.name}') does not match the table`)
  }
  TYPE_BY_ID[p.id] = CODE[p.type]
  NAME_BY_ID[p.id] = p.name
  if (!p.repeats) {
    ONCE_BIT_BY_ID[p.id] = bit
    bit <<= 1
  }
}

/**
 * Encoded bytes of one property of `type` (identifier included) holding
 * `value`, which the caller has checked: for `string` and `binary` its byte
 * length, for `varint` the integer, for `pair` the two strings' byte lengths
 * summed; ignored otherwise.
 */
export function propertySize(type: number, value: number): number {
  switch (type) {
    case T_BYTE:
      return 2
    case T_INT16:
      return 3
    case T_INT32:
      return 5
    case T_VARINT:
      return 1 + varintSize(value)
    case T_PAIR:
      return 5 + value
    default:
      // T_STRING, T_BINARY: a 2-byte length and the bytes
      return 3 + value
  }
}
