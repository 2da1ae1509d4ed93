/**
 * MQTT 5 PUBLISH properties for the fast paths: decoded into exactly the object
 * mqtt-packet's parser builds, encoded byte for byte as mqtt-packet's writer
 * does. Both give up (null / -1) on anything they do not mirror exactly; the
 * caller then leaves the packet to mqtt-packet, which parses, writes or
 * rejects it as it always does. Which properties, their names and wire types
 * come from the one table in publish-properties.ts.
 */
import {
  codeOf,
  NAME_BY_ID,
  ONCE_BIT_BY_ID,
  propertySize,
  T_BINARY,
  T_BYTE,
  T_INT16,
  T_INT32,
  T_PAIR,
  T_STRING,
  T_VARINT,
  TYPE_BY_ID,
} from './publish-properties.ts'
import { strictString, wellFormed } from './strict-utf8.ts'

/** The Variable Byte Integer at `b[p]` (its end in {@link varintEnd}), or -1 when cut off by `end` or longer than 4 bytes. */
function readVarint(b: Buffer, p: number, end: number): number {
  let n = 0
  let mul = 1
  for (let k = 0; ; k++) {
    if (k === 4 || p >= end) return -1
    const c = b[p++]!
    n += (c & 127) * mul
    mul *= 128
    if (c < 128) {
      varintEnd = p
      return n
    }
  }
}
/** Where the last {@link readVarint} ended (no tuple allocated per call). */
let varintEnd = 0

/**
 * Whether `parseProperties` takes the property list in `b[p, end)`: a cheap
 * scan without allocation, so runs of packets it does not take go to
 * mqtt-packet's parser together (not one parser call per packet).
 */
export function propertiesFit(b: Buffer, p: number, end: number): boolean {
  let seen = 0
  while (p < end) {
    const id = b[p++]!
    switch (TYPE_BY_ID[id]) {
      case T_BYTE:
        p += 1
        break
      case T_INT16:
        p += 2
        break
      case T_INT32:
        p += 4
        break
      case T_STRING: {
        if (p + 2 > end) return false
        const s = p + 2
        p = s + ((b[p]! << 8) | b[p + 1]!)
        if (p > end || !wellFormed(b, s, p)) return false
        break
      }
      case T_BINARY:
        if (p + 2 > end) return false
        p += 2 + ((b[p]! << 8) | b[p + 1]!)
        break
      case T_PAIR: {
        if (p + 2 > end) return false
        const k = p + 2
        p = k + ((b[p]! << 8) | b[p + 1]!)
        if (p + 2 > end || !wellFormed(b, k, p)) return false
        const v = p + 2
        p = v + ((b[p]! << 8) | b[p + 1]!)
        if (p > end || !wellFormed(b, v, p)) return false
        break
      }
      case T_VARINT: {
        const n = readVarint(b, p, end)
        // 0 is a protocol error (5.0 §3.8.2.1.2): left to mqtt-packet's parser, which rejects it
        if (n <= 0) return false
        p = varintEnd
        break
      }
      default:
        return false
    }
    const bit = ONCE_BIT_BY_ID[id]!
    if (seen & bit) return false
    seen |= bit
  }
  return p === end
}

/**
 * Decodes the property list in `b[p, end)` (without its length prefix).
 * Null when it holds anything but well-formed PUBLISH properties ending
 * exactly at `end`, or a repeated single-valued property (mqtt-packet
 * turns those into arrays; left to it).
 */
export function parseProperties(b: Buffer, p: number, end: number): Record<string, unknown> | null {
  const result: Record<string, unknown> = {}
  while (p < end) {
    const id = b[p++]!
    let v: unknown
    switch (TYPE_BY_ID[id]) {
      case T_PAIR: {
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
      case T_BYTE:
        if (p >= end) return null
        v = b[p++] !== 0
        break
      case T_INT32:
        if (p + 4 > end) return null
        v = b[p]! * 0x1000000 + ((b[p + 1]! << 16) | (b[p + 2]! << 8) | b[p + 3]!)
        p += 4
        break
      case T_STRING:
      case T_BINARY: {
        if (p + 2 > end) return null
        const sEnd = p + 2 + ((b[p]! << 8) | b[p + 1]!)
        if (sEnd > end) return null
        v = TYPE_BY_ID[id] === T_BINARY ? b.subarray(p + 2, sEnd) : strictString(b, p + 2, sEnd)
        if (v === null) return null
        p = sEnd
        break
      }
      case T_VARINT: {
        const n = readVarint(b, p, end)
        if (n <= 0) return null
        v = n
        p = varintEnd
        break
      }
      case T_INT16:
        if (p + 2 > end) return null
        v = (b[p]! << 8) | b[p + 1]!
        p += 2
        break
      default:
        return null
    }
    const name = NAME_BY_ID[id]!
    const prev = result[name]
    if (prev === undefined) result[name] = v
    else {
      // only the subscription identifier may repeat here; mqtt-packet overwrites a falsy first value
      if (ONCE_BIT_BY_ID[id] !== 0 || !prev) return null
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
      size += propertySize(T_PAIR, kLen + n)
    } else if (Array.isArray(v) && v.length > 0) {
      for (const item of v) {
        if (typeof item !== 'string') return -1
        const n = Buffer.byteLength(item)
        if (n > 0xffff) return -1
        size += propertySize(T_PAIR, kLen + n)
      }
    } else return -1
  }
  // mqtt-packet writes nothing (and reports no error) for `userProperties: {}`: left to it
  return size === 0 ? -1 : size
}

/** Size of one Variable Byte Integer property value (or a list of them), or -1 if invalid. */
function varintsSize(v: unknown): number {
  if (isUint(v, 0x0fffffff)) return propertySize(T_VARINT, v)
  if (!Array.isArray(v) || v.length === 0) return -1
  let size = 0
  for (const id of v) {
    if (!isUint(id, 0x0fffffff)) return -1
    size += propertySize(T_VARINT, id)
  }
  return size
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
    const code = codeOf(name)
    if (code === undefined) return -1
    let n: number
    switch (code & 15) {
      case T_BYTE:
        n = typeof v === 'boolean' ? propertySize(T_BYTE, 0) : -1
        break
      case T_INT16:
        n = isUint(v, 0xffff) ? propertySize(T_INT16, 0) : -1
        break
      case T_INT32:
        n = isUint(v, 0xffffffff) ? propertySize(T_INT32, 0) : -1
        break
      case T_STRING: {
        const len = typeof v === 'string' ? Buffer.byteLength(v) : 0x10000
        n = len > 0xffff ? -1 : propertySize(T_STRING, len)
        break
      }
      case T_BINARY:
        n = Buffer.isBuffer(v) && v.length <= 0xffff ? propertySize(T_BINARY, v.length) : -1
        break
      case T_VARINT:
        n = varintsSize(v)
        break
      default:
        n = userPropertiesSize(v)
    }
    if (n < 0) return -1
    size += n
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
    // propertiesSize accepted only names of the table, with values of their type
    const code = codeOf(name)!
    const id = code >> 4
    switch (code & 15) {
      case T_BYTE:
        slab[p++] = id
        slab[p++] = v ? 1 : 0
        break
      case T_INT16:
        slab[p++] = id
        slab[p++] = (v as number) >> 8
        slab[p++] = (v as number) & 255
        break
      case T_INT32: {
        const n = v as number
        slab[p++] = id
        slab[p++] = n >>> 24
        slab[p++] = (n >>> 16) & 255
        slab[p++] = (n >>> 8) & 255
        slab[p++] = n & 255
        break
      }
      case T_STRING:
        slab[p++] = id
        p = putString(slab, p, v as string)
        break
      case T_BINARY: {
        const buf = v as Buffer
        slab[p++] = id
        slab[p++] = buf.length >> 8
        slab[p++] = buf.length & 255
        slab.set(buf, p)
        p += buf.length
        break
      }
      case T_VARINT:
        if (Array.isArray(v)) {
          for (const n of v as number[]) {
            slab[p++] = id
            p = putVarint(slab, p, n)
          }
        } else {
          slab[p++] = id
          p = putVarint(slab, p, v as number)
        }
        break
      default: {
        // T_PAIR: user properties
        const up = v as Record<string, string | string[]>
        for (const k of Object.getOwnPropertyNames(up)) {
          const value = up[k]!
          if (typeof value === 'string') {
            slab[p++] = id
            p = putString(slab, putString(slab, p, k), value)
          } else {
            for (const item of value) {
              slab[p++] = id
              p = putString(slab, putString(slab, p, k), item)
            }
          }
        }
      }
    }
  }
  return p
}
