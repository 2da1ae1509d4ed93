/**
 * MQTT 5 PUBLISH properties for the fast paths: decoded into exactly the object
 * mqtt-packet's parser builds, encoded byte for byte as mqtt-packet's writer
 * does. Both give up (null / -1) on anything they do not mirror exactly; the
 * caller then leaves the packet to mqtt-packet, which parses, writes or
 * rejects it as it always does.
 */
import { varintSize } from '../mqtt/varint.ts'
import { strictString, wellFormed } from './strict-utf8.ts'

/** Property names by id, for the ids handled here (the ones a PUBLISH carries). */
const NAMES: Record<number, string> = {
  1: 'payloadFormatIndicator',
  2: 'messageExpiryInterval',
  3: 'contentType',
  8: 'responseTopic',
  9: 'correlationData',
  11: 'subscriptionIdentifier',
  35: 'topicAlias',
}

const USER_PROPERTY = 0x26

/** Bit per single-valued property id, to spot repeats while scanning. */
const SINGLE_BIT: Record<number, number> = { 1: 1, 2: 2, 3: 4, 8: 8, 9: 16, 35: 32 }

/**
 * Whether `parseProperties` takes the property list in `b[p, end)`: a cheap
 * scan without allocation, so runs of packets it does not take go to
 * mqtt-packet's parser together (not one parser call per packet).
 */
export function propertiesFit(b: Buffer, p: number, end: number): boolean {
  let seen = 0
  while (p < end) {
    const id = b[p++]!
    switch (id) {
      case 0x01:
        p += 1
        break
      case 0x02:
        p += 4
        break
      case 0x03:
      case 0x08: {
        if (p + 2 > end) return false
        const s = p + 2
        p = s + ((b[p]! << 8) | b[p + 1]!)
        if (p > end || !wellFormed(b, s, p)) return false
        break
      }
      case 0x09:
        if (p + 2 > end) return false
        p += 2 + ((b[p]! << 8) | b[p + 1]!)
        break
      case 0x23:
        p += 2
        break
      case USER_PROPERTY: {
        if (p + 2 > end) return false
        const k = p + 2
        p = k + ((b[p]! << 8) | b[p + 1]!)
        if (p + 2 > end || !wellFormed(b, k, p)) return false
        const v = p + 2
        p = v + ((b[p]! << 8) | b[p + 1]!)
        if (p > end || !wellFormed(b, v, p)) return false
        continue
      }
      case 0x0b: {
        let n = 0
        let mul = 1
        for (let k = 0; ; k++) {
          if (k === 4 || p >= end) return false
          const c = b[p++]!
          n += (c & 127) * mul
          mul *= 128
          if (c < 128) break
        }
        // 0 is a protocol error (5.0 §3.8.2.1.2): left to mqtt-packet's parser, which rejects it
        if (n === 0) return false
        continue
      }
      default:
        return false
    }
    const bit = SINGLE_BIT[id]!
    if (seen & bit) return false
    seen |= bit
  }
  return p === end
}

/**
 * Decodes the property list in `b[p, end)` (without its length prefix).
 * Null when it holds anything but well-formed properties of the ids above
 * ending exactly at `end`, or a repeated single-valued property (mqtt-packet
 * turns those into arrays; left to it).
 */
export function parseProperties(b: Buffer, p: number, end: number): Record<string, unknown> | null {
  const result: Record<string, unknown> = {}
  while (p < end) {
    const id = b[p++]!
    let v: unknown
    if (id === USER_PROPERTY) {
      if (p + 2 > end) return null
      const kEnd = p + 2 + ((b[p]! << 8) | b[p + 1]!)
      if (kEnd + 2 > end) return null
      const vEnd = kEnd + 2 + ((b[kEnd]! << 8) | b[kEnd + 1]!)
      if (vEnd > end) return null
      const k = strictString(b, p + 2, kEnd)
      const value = strictString(b, kEnd + 2, vEnd)
      // ill-formed UTF-8: left to mqtt-packet's parser, which rejects it (packet-parser.ts)
      if (k === null || value === null) return null
      p = vEnd
      // mqtt-packet's shape: a null-prototype object, a repeated key collects
      // its values in an array (its truthiness test included: '' is replaced)
      let up = result.userProperties as Record<string, string | string[]> | undefined
      if (up === undefined) {
        up = Object.create(null) as Record<string, string | string[]>
        result.userProperties = up
      }
      const prev = up[k]
      if (prev) {
        if (Array.isArray(prev)) prev.push(value)
        else up[k] = [prev, value]
      } else up[k] = value
      continue
    }
    switch (id) {
      case 0x01:
        if (p >= end) return null
        v = b[p++] !== 0
        break
      case 0x02:
        if (p + 4 > end) return null
        v = b[p]! * 0x1000000 + ((b[p + 1]! << 16) | (b[p + 2]! << 8) | b[p + 3]!)
        p += 4
        break
      case 0x03:
      case 0x08:
      case 0x09: {
        if (p + 2 > end) return null
        const sEnd = p + 2 + ((b[p]! << 8) | b[p + 1]!)
        if (sEnd > end) return null
        v = id === 0x09 ? b.subarray(p + 2, sEnd) : strictString(b, p + 2, sEnd)
        if (v === null) return null
        p = sEnd
        break
      }
      case 0x0b: {
        let n = 0
        let mul = 1
        for (let k = 0; ; k++) {
          if (k === 4 || p >= end) return null
          const c = b[p++]!
          n += (c & 127) * mul
          mul *= 128
          if (c < 128) break
        }
        if (n === 0) return null
        v = n
        break
      }
      case 0x23:
        if (p + 2 > end) return null
        v = (b[p]! << 8) | b[p + 1]!
        p += 2
        break
      default:
        return null
    }
    const name = NAMES[id]!
    const prev = result[name]
    if (prev === undefined) result[name] = v
    else {
      // only the subscription identifier may repeat; mqtt-packet overwrites a falsy first value
      if (id !== 0x0b || !prev) return null
      if (Array.isArray(prev)) prev.push(v)
      else result[name] = [prev, v]
    }
  }
  return result
}

function isUint(v: unknown, max: number): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= max
}

function userPropertiesSize(up: unknown): number {
  if (typeof up !== 'object' || up === null || Array.isArray(up)) return -1
  let size = 0
  for (const k of Object.getOwnPropertyNames(up)) {
    const kLen = Buffer.byteLength(k)
    if (kLen > 0xffff) return -1
    const v = (up as Record<string, unknown>)[k]
    if (typeof v === 'string') {
      const n = Buffer.byteLength(v)
      if (n > 0xffff) return -1
      size += 5 + kLen + n
    } else if (Array.isArray(v) && v.length > 0) {
      for (const item of v) {
        if (typeof item !== 'string') return -1
        const n = Buffer.byteLength(item)
        if (n > 0xffff) return -1
        size += 5 + kLen + n
      }
    } else return -1
  }
  // mqtt-packet writes nothing (and reports no error) for `userProperties: {}`: left to it
  return size === 0 ? -1 : size
}

/**
 * Size of the encoded property list (without its length prefix), or -1 when
 * mqtt-packet's writer must handle it (unknown or invalid property, an
 * unusual object, anything it writes in a way not mirrored here).
 */
export function propertiesSize(props: unknown): number {
  if (typeof props !== 'object' || props === null) return -1
  const proto = Object.getPrototypeOf(props)
  if (proto !== Object.prototype && proto !== null) return -1
  let size = 0
  for (const name in props) {
    const v = (props as Record<string, unknown>)[name]
    if (v === undefined) continue
    switch (name) {
      case 'payloadFormatIndicator':
        if (typeof v !== 'boolean') return -1
        size += 2
        break
      case 'messageExpiryInterval':
        if (!isUint(v, 0xffffffff)) return -1
        size += 5
        break
      case 'contentType':
      case 'responseTopic': {
        if (typeof v !== 'string') return -1
        const n = Buffer.byteLength(v)
        if (n > 0xffff) return -1
        size += 3 + n
        break
      }
      case 'correlationData':
        if (!Buffer.isBuffer(v) || v.length > 0xffff) return -1
        size += 3 + v.length
        break
      case 'subscriptionIdentifier':
        if (isUint(v, 0x0fffffff)) size += 1 + varintSize(v)
        else if (Array.isArray(v) && v.length > 0) {
          for (const id of v) {
            if (!isUint(id, 0x0fffffff)) return -1
            size += 1 + varintSize(id)
          }
        } else return -1
        break
      case 'topicAlias':
        if (!isUint(v, 0xffff)) return -1
        size += 3
        break
      case 'userProperties': {
        const n = userPropertiesSize(v)
        if (n < 0) return -1
        size += n
        break
      }
      default:
        return -1
    }
  }
  return size
}

/** Writes a 2-byte length and the UTF-8 string at `p`; returns the end. */
function putString(slab: Buffer, p: number, s: string): number {
  const len = s.length
  let n = 0
  if (len < 64) {
    // ASCII: a byte loop beats the native call for short strings
    for (; n < len; n++) {
      const c = s.charCodeAt(n)
      if (c > 127) break
      slab[p + 2 + n] = c
    }
  }
  if (n !== len) n = slab.write(s, p + 2)
  slab[p] = n >> 8
  slab[p + 1] = n & 255
  return p + 2 + n
}

function putVarint(slab: Buffer, p: number, n: number): number {
  while (n > 127) {
    slab[p++] = (n & 127) | 128
    n >>>= 7
  }
  slab[p++] = n
  return p
}

/**
 * Writes the properties `propertiesSize` accepted, in mqtt-packet's order
 * (the object's key order, user properties in own-name order), at `p`;
 * returns the end.
 */
export function writeProperties(slab: Buffer, p: number, props: Record<string, unknown>): number {
  for (const name in props) {
    const v = props[name]
    if (v === undefined) continue
    switch (name) {
      case 'payloadFormatIndicator':
        slab[p++] = 0x01
        slab[p++] = v ? 1 : 0
        break
      case 'messageExpiryInterval': {
        const n = v as number
        slab[p++] = 0x02
        slab[p++] = n >>> 24
        slab[p++] = (n >>> 16) & 255
        slab[p++] = (n >>> 8) & 255
        slab[p++] = n & 255
        break
      }
      case 'contentType':
        slab[p++] = 0x03
        p = putString(slab, p, v as string)
        break
      case 'responseTopic':
        slab[p++] = 0x08
        p = putString(slab, p, v as string)
        break
      case 'correlationData': {
        const buf = v as Buffer
        slab[p++] = 0x09
        slab[p++] = buf.length >> 8
        slab[p++] = buf.length & 255
        slab.set(buf, p)
        p += buf.length
        break
      }
      case 'subscriptionIdentifier':
        if (Array.isArray(v)) {
          for (const id of v) {
            slab[p++] = 0x0b
            p = putVarint(slab, p, id as number)
          }
        } else {
          slab[p++] = 0x0b
          p = putVarint(slab, p, v as number)
        }
        break
      case 'topicAlias':
        slab[p++] = 0x23
        slab[p++] = (v as number) >> 8
        slab[p++] = (v as number) & 255
        break
      default: {
        // userProperties (propertiesSize accepts nothing else)
        const up = v as Record<string, string | string[]>
        for (const k of Object.getOwnPropertyNames(up)) {
          const value = up[k]!
          if (typeof value === 'string') {
            slab[p++] = USER_PROPERTY
            p = putString(slab, putString(slab, p, k), value)
          } else {
            for (const item of value) {
              slab[p++] = USER_PROPERTY
              p = putString(slab, putString(slab, p, k), item)
            }
          }
        }
      }
    }
  }
  return p
}
