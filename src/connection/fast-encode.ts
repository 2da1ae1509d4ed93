import { varintSize } from '../mqtt/varint.ts'
import { propertiesSize, writeProperties } from './fast-properties.ts'
import { COPY_LIMIT, type OutboundBuffer } from './outbound-buffer.ts'

const EMPTY = Buffer.alloc(0)
const MAX_REMAINING = 268_435_455

interface PublishFields {
  topic?: unknown
  payload?: unknown
  qos?: unknown
  messageId?: unknown
  dup?: unknown
  retain?: unknown
  properties?: unknown
}

function isId(id: unknown): id is number {
  return typeof id === 'number' && Number.isInteger(id) && id >= 0 && id <= 0xffff
}

/**
 * Encodes the common PUBLISH (string topic, Buffer or string payload, v5
 * properties that `propertiesSize` accepts) straight into the outbound slab, byte for byte what mqtt-packet
 * writes. Returns false, having written nothing, for anything else: the caller
 * then uses mqtt-packet's writeToStream, which also produces its error.
 */
export function encodePublish(out: OutboundBuffer, o: PublishFields, v5: boolean): boolean {
  const topic = o.topic
  if (typeof topic !== 'string') return false
  // v5 property list: its size (-1: left to mqtt-packet) and the bytes of its length prefix
  let propsSize = 0
  let propsHead = v5 ? 1 : 0
  const props = o.properties
  if (v5 && props !== undefined) {
    propsSize = propertiesSize(props)
    if (propsSize < 0) return false
    propsHead = varintSize(propsSize)
  }
  const qos = o.qos ?? 0
  if (qos !== 0 && qos !== 1 && qos !== 2) return false
  const id = o.messageId
  if (qos !== 0 && !isId(id)) return false
  const payload = o.payload || EMPTY
  let plen: number
  if (Buffer.isBuffer(payload)) plen = payload.length
  else if (typeof payload === 'string') plen = Buffer.byteLength(payload)
  else return false
  const tlen = Buffer.byteLength(topic)
  if (tlen > 0xffff) return false
  const fixed = 2 + tlen + (qos !== 0 ? 2 : 0) + propsHead + propsSize
  const len = fixed + plen
  if (len > MAX_REMAINING) return false
  const inline = plen < COPY_LIMIT
  const slab = out.reserve(5 + fixed + (inline ? plen : 0))
  let p = out.pos
  slab[p++] = 0x30 | (o.dup ? 8 : 0) | (qos << 1) | (o.retain ? 1 : 0)
  let n = len
  while (n > 127) {
    slab[p++] = (n & 127) | 128
    n >>>= 7
  }
  slab[p++] = n
  slab[p++] = tlen >> 8
  slab[p++] = tlen & 255
  if (tlen === topic.length) {
    // ASCII: a byte loop beats the native call for short topics
    for (let i = 0; i < tlen; i++) slab[p++] = topic.charCodeAt(i)
  } else p += slab.write(topic, p)
  if (qos !== 0) {
    slab[p++] = (id as number) >> 8
    slab[p++] = (id as number) & 255
  }
  if (v5) {
    if (propsSize === 0) slab[p++] = 0
    else {
      let n = propsSize
      while (n > 127) {
        slab[p++] = (n & 127) | 128
        n >>>= 7
      }
      slab[p++] = n
      const sized = p + propsSize
      p = writeProperties(slab, p, props as Record<string, unknown>)
      // an object that changed while read (a getter): nothing is committed yet, so mqtt-packet can take over
      if (p !== sized) return false
    }
  }
  if (inline) {
    if (typeof payload === 'string') p += slab.write(payload, p)
    else if (plen < 16) for (let i = 0; i < plen; i++) slab[p++] = payload[i]!
    else {
      slab.set(payload, p)
      p += plen
    }
    out.commit(p)
  } else {
    out.commit(p)
    out.write(payload)
  }
  return true
}

/**
 * Encodes a PUBACK without properties, byte for byte as mqtt-packet does: in
 * v5 reason code 0 gives the 2-byte form, any other (or none) the 4-byte form
 * with an empty property list. False for anything else.
 */
export function encodePuback(
  out: OutboundBuffer,
  o: { messageId?: unknown; reasonCode?: unknown; properties?: unknown },
  v5: boolean,
): boolean {
  const id = o.messageId
  if (!isId(id)) return false
  if (v5 && o.properties !== undefined) return false
  const rc = o.reasonCode
  const short = !v5 || rc === 0
  if (
    !short &&
    rc !== undefined &&
    !(typeof rc === 'number' && Number.isInteger(rc) && rc >= 0 && rc <= 255)
  ) {
    return false
  }
  const slab = out.reserve(6)
  const p = out.pos
  slab[p] = 0x40
  slab[p + 2] = id >> 8
  slab[p + 3] = id & 255
  if (short) {
    slab[p + 1] = 2
    out.commit(p + 4)
  } else {
    slab[p + 1] = 4
    slab[p + 4] = (rc as number | undefined) ?? 0
    slab[p + 5] = 0
    out.commit(p + 6)
  }
  return true
}

/**
 * Encodes a CONNACK without properties, byte for byte as mqtt-packet does
 * (`returnCode` up to v3.1.1, `reasonCode` and an empty property list in v5):
 * one per connection, which mqtt-packet writes in four pieces. False for
 * anything else (properties, a code that is not a byte), left to mqtt-packet.
 */
export function encodeConnack(
  out: OutboundBuffer,
  o: { returnCode?: unknown; reasonCode?: unknown; sessionPresent?: unknown; properties?: unknown },
  v5: boolean,
): boolean {
  const rc = v5 ? o.reasonCode : o.returnCode
  if (!(typeof rc === 'number' && Number.isInteger(rc) && rc >= 0 && rc <= 255)) return false
  if (v5 && o.properties !== undefined) return false
  const slab = out.reserve(5)
  const p = out.pos
  slab[p] = 0x20
  slab[p + 1] = v5 ? 3 : 2
  slab[p + 2] = o.sessionPresent ? 1 : 0
  slab[p + 3] = rc
  if (v5) {
    slab[p + 4] = 0
    out.commit(p + 5)
  } else out.commit(p + 4)
  return true
}
