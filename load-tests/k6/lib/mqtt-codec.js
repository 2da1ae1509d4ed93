/**
 * A small MQTT 3.1.1 / 5.0 packet codec for k6 scripts.
 *
 * Plain JavaScript with no Node APIs: k6 runs scripts in its own JS runtime,
 * which has no npm and no Buffer, so this works on Uint8Array only and carries
 * its own UTF-8 coder. Packet objects use mqtt-packet's field names and value
 * types (booleans for v5 "byte" properties, userProperties as an object) so the
 * codec can be checked against mqtt-packet under Node (test/load-tests/).
 */

const CMDS = [
  'reserved',
  'connect',
  'connack',
  'publish',
  'puback',
  'pubrec',
  'pubrel',
  'pubcomp',
  'subscribe',
  'suback',
  'unsubscribe',
  'unsuback',
  'pingreq',
  'pingresp',
  'disconnect',
  'auth',
]

/** v5 property table: name -> [identifier, wire type]. */
const PROPS = {
  payloadFormatIndicator: [0x01, 'byte'],
  messageExpiryInterval: [0x02, 'int32'],
  contentType: [0x03, 'string'],
  responseTopic: [0x08, 'string'],
  correlationData: [0x09, 'binary'],
  subscriptionIdentifier: [0x0b, 'var'],
  sessionExpiryInterval: [0x11, 'int32'],
  assignedClientIdentifier: [0x12, 'string'],
  serverKeepAlive: [0x13, 'int16'],
  authenticationMethod: [0x15, 'string'],
  authenticationData: [0x16, 'binary'],
  requestProblemInformation: [0x17, 'byte'],
  willDelayInterval: [0x18, 'int32'],
  requestResponseInformation: [0x19, 'byte'],
  responseInformation: [0x1a, 'string'],
  serverReference: [0x1c, 'string'],
  reasonString: [0x1f, 'string'],
  receiveMaximum: [0x21, 'int16'],
  topicAliasMaximum: [0x22, 'int16'],
  topicAlias: [0x23, 'int16'],
  maximumQoS: [0x24, 'int8'],
  retainAvailable: [0x25, 'byte'],
  userProperties: [0x26, 'pair'],
  maximumPacketSize: [0x27, 'int32'],
  wildcardSubscriptionAvailable: [0x28, 'byte'],
  subscriptionIdentifiersAvailable: [0x29, 'byte'],
  sharedSubscriptionAvailable: [0x2a, 'byte'],
}
const PROP_BY_ID = {}
for (const name of Object.keys(PROPS)) PROP_BY_ID[PROPS[name][0]] = name

/** Largest remaining length MQTT can express (4-byte variable integer). */
export const MAX_REMAINING_LENGTH = 268435455

// ---------- UTF-8 (k6 may lack TextEncoder) ----------

/** Encodes a JS string as UTF-8 bytes. */
export function utf8Encode(str) {
  const out = []
  for (let i = 0; i < str.length; i++) {
    let c = str.charCodeAt(i)
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < str.length) {
      const d = str.charCodeAt(i + 1)
      if (d >= 0xdc00 && d <= 0xdfff) {
        c = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00)
        i++
      }
    }
    if (c < 0x80) out.push(c)
    else if (c < 0x800) out.push(0xc0 | (c >> 6), 0x80 | (c & 63))
    else if (c < 0x10000) out.push(0xe0 | (c >> 12), 0x80 | ((c >> 6) & 63), 0x80 | (c & 63))
    else out.push(0xf0 | (c >> 18), 0x80 | ((c >> 12) & 63), 0x80 | ((c >> 6) & 63), 0x80 | (c & 63))
  }
  return new Uint8Array(out)
}

/** Decodes UTF-8 bytes into a JS string. */
export function utf8Decode(bytes, start = 0, end = bytes.length) {
  let s = ''
  let i = start
  while (i < end) {
    const b = bytes[i++]
    let c
    if (b < 0x80) c = b
    else if (b < 0xe0) c = ((b & 31) << 6) | (bytes[i++] & 63)
    else if (b < 0xf0) c = ((b & 15) << 12) | ((bytes[i++] & 63) << 6) | (bytes[i++] & 63)
    else {
      c = ((b & 7) << 18) | ((bytes[i++] & 63) << 12) | ((bytes[i++] & 63) << 6) | (bytes[i++] & 63)
    }
    if (c >= 0x10000) {
      c -= 0x10000
      s += String.fromCharCode(0xd800 + (c >> 10), 0xdc00 + (c & 1023))
    } else s += String.fromCharCode(c)
  }
  return s
}

function toBytes(value) {
  if (value === undefined || value === null) return new Uint8Array(0)
  if (typeof value === 'string') return utf8Encode(value)
  if (value instanceof Uint8Array) return value
  if (value instanceof ArrayBuffer) return new Uint8Array(value)
  if (ArrayBuffer.isView(value)) return new Uint8Array(value.buffer, value.byteOffset, value.byteLength)
  throw new TypeError('mqtt-codec: payload must be a string, ArrayBuffer or typed array')
}

// ---------- writer ----------

class Writer {
  constructor() {
    this.parts = []
    this.size = 0
  }
  byte(v) {
    this.parts.push([v & 255])
    this.size++
  }
  u16(v) {
    this.parts.push([(v >> 8) & 255, v & 255])
    this.size += 2
  }
  u32(v) {
    this.parts.push([(v >>> 24) & 255, (v >>> 16) & 255, (v >>> 8) & 255, v & 255])
    this.size += 4
  }
  varint(v) {
    const b = varintBytes(v)
    this.parts.push(b)
    this.size += b.length
  }
  raw(bytes) {
    this.parts.push(bytes)
    this.size += bytes.length
  }
  /** Two-byte length prefix then the bytes (strings and binary data). */
  lp(value) {
    const b = toBytes(value)
    if (b.length > 65535) throw new RangeError('mqtt-codec: string or binary field longer than 65535 bytes')
    this.u16(b.length)
    this.raw(b)
  }
  writer(w) {
    for (const p of w.parts) this.parts.push(p)
    this.size += w.size
  }
  bytes() {
    const out = new Uint8Array(this.size)
    let o = 0
    for (const p of this.parts) {
      if (p.length === 1) out[o++] = p[0]
      else {
        out.set(p, o)
        o += p.length
      }
    }
    return out
  }
}

/** Encodes a variable byte integer (MQTT remaining length / v5 varint). */
export function varintBytes(v) {
  if (v < 0 || v > MAX_REMAINING_LENGTH)
    throw new RangeError(`mqtt-codec: variable integer out of range: ${v}`)
  const out = []
  do {
    let d = v % 128
    v = Math.floor(v / 128)
    if (v > 0) d |= 0x80
    out.push(d)
  } while (v > 0)
  return out
}

function writeProperties(w, props) {
  const p = new Writer()
  if (props) {
    for (const name of Object.keys(props)) {
      const def = PROPS[name]
      const value = props[name]
      if (!def) throw new TypeError(`mqtt-codec: unknown property ${name}`)
      if (value === undefined) continue
      if (name === 'userProperties') {
        for (const key of Object.keys(value)) {
          const vals = Array.isArray(value[key]) ? value[key] : [value[key]]
          for (const v of vals) {
            p.byte(def[0])
            p.lp(key)
            p.lp(String(v))
          }
        }
        continue
      }
      const values = Array.isArray(value) && def[1] !== 'binary' ? value : [value]
      for (const v of values) {
        p.byte(def[0])
        writeTyped(p, def[1], v)
      }
    }
  }
  w.varint(p.size)
  w.writer(p)
}

function writeTyped(w, type, v) {
  switch (type) {
    case 'byte':
      return w.byte(v ? 1 : 0)
    case 'int8':
      return w.byte(v)
    case 'int16':
      return w.u16(v)
    case 'int32':
      return w.u32(v)
    case 'var':
      return w.varint(v)
    case 'string':
    case 'binary':
      return w.lp(v)
  }
}

function fixedHeader(type, flags, body) {
  const out = new Writer()
  out.byte((type << 4) | flags)
  out.varint(body.size)
  out.writer(body)
  return out.bytes()
}

function v5(version) {
  return version === 5
}

/**
 * Encodes one packet. `protocolVersion` (4 = 3.1.1, 5 = 5.0) decides the
 * layout of everything but CONNECT, which carries its own `protocolVersion`.
 * @param {object} packet an mqtt-packet style object with `cmd`
 * @param {number} [protocolVersion]
 * @returns {Uint8Array}
 */
export function encode(packet, protocolVersion = 4) {
  const b = new Writer()
  const version = packet.cmd === 'connect' ? (packet.protocolVersion ?? 4) : protocolVersion
  const isV5 = v5(version)
  switch (packet.cmd) {
    case 'connect': {
      b.lp(version === 3 ? 'MQIsdp' : 'MQTT')
      b.byte(version)
      const will = packet.will
      let flags = 0
      if (packet.username !== undefined) flags |= 0x80
      if (packet.password !== undefined) flags |= 0x40
      if (will) flags |= 0x04 | ((will.qos ?? 0) << 3) | (will.retain ? 0x20 : 0)
      if (packet.clean !== false) flags |= 0x02
      b.byte(flags)
      b.u16(packet.keepalive ?? 0)
      if (isV5) writeProperties(b, packet.properties)
      b.lp(packet.clientId ?? '')
      if (will) {
        if (isV5) writeProperties(b, will.properties)
        b.lp(will.topic)
        b.lp(will.payload)
      }
      if (packet.username !== undefined) b.lp(packet.username)
      if (packet.password !== undefined) b.lp(packet.password)
      return fixedHeader(1, 0, b)
    }
    case 'connack':
      b.byte(packet.sessionPresent ? 1 : 0)
      b.byte(isV5 ? (packet.reasonCode ?? 0) : (packet.returnCode ?? 0))
      if (isV5) writeProperties(b, packet.properties)
      return fixedHeader(2, 0, b)
    case 'publish': {
      const qos = packet.qos ?? 0
      b.lp(packet.topic ?? '')
      if (qos > 0) b.u16(packet.messageId)
      if (isV5) writeProperties(b, packet.properties)
      b.raw(toBytes(packet.payload))
      const flags = (packet.dup ? 8 : 0) | (qos << 1) | (packet.retain ? 1 : 0)
      return fixedHeader(3, flags, b)
    }
    case 'puback':
    case 'pubrec':
    case 'pubrel':
    case 'pubcomp': {
      b.u16(packet.messageId)
      const hasProps = packet.properties && Object.keys(packet.properties).length > 0
      if (isV5 && (packet.reasonCode || hasProps)) {
        b.byte(packet.reasonCode ?? 0)
        if (hasProps) writeProperties(b, packet.properties)
      }
      const type = CMDS.indexOf(packet.cmd)
      return fixedHeader(type, packet.cmd === 'pubrel' ? 2 : 0, b)
    }
    case 'subscribe':
      b.u16(packet.messageId)
      if (isV5) writeProperties(b, packet.properties)
      for (const s of packet.subscriptions) {
        b.lp(s.topic)
        let opts = s.qos ?? 0
        if (isV5) opts |= (s.nl ? 4 : 0) | (s.rap ? 8 : 0) | ((s.rh ?? 0) << 4)
        b.byte(opts)
      }
      return fixedHeader(8, 2, b)
    case 'suback':
    case 'unsuback':
      b.u16(packet.messageId)
      if (isV5) writeProperties(b, packet.properties)
      if (packet.cmd === 'suback' || isV5) for (const g of packet.granted ?? []) b.byte(g)
      return fixedHeader(packet.cmd === 'suback' ? 9 : 11, 0, b)
    case 'unsubscribe':
      b.u16(packet.messageId)
      if (isV5) writeProperties(b, packet.properties)
      for (const t of packet.unsubscriptions) b.lp(t)
      return fixedHeader(10, 2, b)
    case 'pingreq':
      return new Uint8Array([0xc0, 0])
    case 'pingresp':
      return new Uint8Array([0xd0, 0])
    case 'disconnect':
    case 'auth': {
      const hasProps = packet.properties && Object.keys(packet.properties).length > 0
      if (isV5 && (packet.reasonCode || hasProps || packet.cmd === 'auth')) {
        b.byte(packet.reasonCode ?? 0)
        writeProperties(b, packet.properties)
      }
      return fixedHeader(packet.cmd === 'disconnect' ? 14 : 15, 0, b)
    }
    default:
      throw new TypeError(`mqtt-codec: unknown cmd ${packet.cmd}`)
  }
}

// ---------- reader ----------

class Reader {
  constructor(bytes, pos, end) {
    this.b = bytes
    this.pos = pos
    this.end = end
  }
  need(n) {
    if (this.pos + n > this.end)
      throw new RangeError('mqtt-codec: malformed packet (field runs past its end)')
  }
  byte() {
    this.need(1)
    return this.b[this.pos++]
  }
  u16() {
    this.need(2)
    const v = (this.b[this.pos] << 8) | this.b[this.pos + 1]
    this.pos += 2
    return v
  }
  u32() {
    this.need(4)
    const b = this.b
    const p = this.pos
    this.pos += 4
    return ((b[p] << 24) >>> 0) + ((b[p + 1] << 16) | (b[p + 2] << 8) | b[p + 3])
  }
  varint() {
    let mult = 1
    let v = 0
    for (let i = 0; i < 4; i++) {
      const d = this.byte()
      v += (d & 127) * mult
      if ((d & 128) === 0) return v
      mult *= 128
    }
    throw new RangeError('mqtt-codec: malformed variable byte integer')
  }
  binary() {
    const n = this.u16()
    this.need(n)
    const out = this.b.slice(this.pos, this.pos + n)
    this.pos += n
    return out
  }
  string() {
    const n = this.u16()
    this.need(n)
    const s = utf8Decode(this.b, this.pos, this.pos + n)
    this.pos += n
    return s
  }
  rest() {
    const out = this.b.slice(this.pos, this.end)
    this.pos = this.end
    return out
  }
  more() {
    return this.pos < this.end
  }
}

function readTyped(r, type) {
  switch (type) {
    case 'byte':
      return r.byte() !== 0
    case 'int8':
      return r.byte()
    case 'int16':
      return r.u16()
    case 'int32':
      return r.u32()
    case 'var':
      return r.varint()
    case 'string':
      return r.string()
    case 'binary':
      return r.binary()
  }
  return undefined
}

/** Reads a v5 property block; returns undefined when it is empty (as mqtt-packet does). */
function readProperties(r) {
  const len = r.varint()
  const end = r.pos + len
  if (end > r.end) throw new RangeError('mqtt-codec: malformed properties length')
  const out = {}
  let any = false
  while (r.pos < end) {
    const id = r.varint()
    const name = PROP_BY_ID[id]
    if (!name) throw new RangeError(`mqtt-codec: unknown property identifier 0x${id.toString(16)}`)
    any = true
    if (name === 'userProperties') {
      const key = r.string()
      const value = r.string()
      if (!out.userProperties) out.userProperties = {}
      const up = out.userProperties
      if (key in up) up[key] = Array.isArray(up[key]) ? [...up[key], value] : [up[key], value]
      else up[key] = value
      continue
    }
    const value = readTyped(r, PROPS[name][1])
    if (name in out) out[name] = Array.isArray(out[name]) ? [...out[name], value] : [out[name], value]
    else out[name] = value
  }
  return any ? out : undefined
}

function withProps(packet, props) {
  if (props) packet.properties = props
  return packet
}

/**
 * Reads the fixed header at `offset`. Returns null while the header or the
 * body is still incomplete.
 * @returns {{ type: number, flags: number, headerLength: number, length: number } | null}
 */
export function readFixedHeader(bytes, offset = 0) {
  if (bytes.length - offset < 2) return null
  let mult = 1
  let length = 0
  let i = offset + 1
  for (;;) {
    if (i >= bytes.length) return null
    const d = bytes[i++]
    length += (d & 127) * mult
    if ((d & 128) === 0) break
    mult *= 128
    if (i - offset > 4) throw new RangeError('mqtt-codec: malformed remaining length')
  }
  const headerLength = i - offset
  if (bytes.length - offset < headerLength + length) return null
  return { type: bytes[offset] >> 4, flags: bytes[offset] & 15, headerLength, length }
}

/**
 * Decodes the packet that starts at `offset`.
 * @param {Uint8Array} bytes
 * @param {number} [protocolVersion] 4 or 5; CONNECT carries its own
 * @param {number} [offset]
 * @returns {{ packet: object, size: number } | null} null when incomplete
 */
export function decode(bytes, protocolVersion = 4, offset = 0) {
  const h = readFixedHeader(bytes, offset)
  if (h === null) return null
  const start = offset + h.headerLength
  const r = new Reader(bytes, start, start + h.length)
  const cmd = CMDS[h.type]
  const isV5 = v5(protocolVersion)
  const packet = {
    cmd,
    retain: (h.flags & 1) === 1,
    qos: (h.flags >> 1) & 3,
    dup: (h.flags & 8) === 8,
    length: h.length,
  }
  switch (cmd) {
    case 'connect': {
      packet.protocolId = r.string()
      packet.protocolVersion = r.byte()
      const pv5 = packet.protocolVersion === 5
      const flags = r.byte()
      packet.clean = (flags & 2) !== 0
      packet.keepalive = r.u16()
      if (pv5) withProps(packet, readProperties(r))
      packet.clientId = r.string()
      if (flags & 4) {
        const will = { retain: (flags & 0x20) !== 0, qos: (flags >> 3) & 3 }
        if (pv5) withProps(will, readProperties(r))
        will.topic = r.string()
        will.payload = r.binary()
        packet.will = will
      }
      if (flags & 0x80) packet.username = r.string()
      if (flags & 0x40) packet.password = r.binary()
      break
    }
    case 'connack':
      packet.sessionPresent = (r.byte() & 1) === 1
      if (isV5) {
        packet.reasonCode = r.more() ? r.byte() : 0
        if (r.more()) withProps(packet, readProperties(r))
      } else packet.returnCode = r.byte()
      break
    case 'publish':
      packet.topic = r.string()
      if (packet.qos > 0) packet.messageId = r.u16()
      if (isV5) withProps(packet, readProperties(r))
      packet.payload = r.rest()
      break
    case 'puback':
    case 'pubrec':
    case 'pubrel':
    case 'pubcomp':
      packet.messageId = r.u16()
      if (isV5) {
        packet.reasonCode = r.more() ? r.byte() : 0
        if (r.more()) withProps(packet, readProperties(r))
      }
      break
    case 'subscribe':
      packet.messageId = r.u16()
      if (isV5) withProps(packet, readProperties(r))
      packet.subscriptions = []
      while (r.more()) {
        const topic = r.string()
        const opts = r.byte()
        const s = { topic, qos: opts & 3 }
        if (isV5) {
          s.nl = (opts & 4) !== 0
          s.rap = (opts & 8) !== 0
          s.rh = (opts >> 4) & 3
        }
        packet.subscriptions.push(s)
      }
      break
    case 'suback':
    case 'unsuback':
      packet.messageId = r.u16()
      if (isV5) withProps(packet, readProperties(r))
      if (cmd === 'suback' || isV5) {
        packet.granted = []
        while (r.more()) packet.granted.push(r.byte())
      }
      break
    case 'unsubscribe':
      packet.messageId = r.u16()
      if (isV5) withProps(packet, readProperties(r))
      packet.unsubscriptions = []
      while (r.more()) packet.unsubscriptions.push(r.string())
      break
    case 'pingreq':
    case 'pingresp':
      break
    case 'disconnect':
    case 'auth':
      if (isV5) {
        packet.reasonCode = r.more() ? r.byte() : 0
        if (r.more()) withProps(packet, readProperties(r))
      }
      break
    default:
      throw new RangeError(`mqtt-codec: reserved packet type ${h.type}`)
  }
  if (r.pos !== r.end) throw new RangeError(`mqtt-codec: ${cmd} has ${r.end - r.pos} trailing bytes`)
  return { packet, size: h.headerLength + h.length }
}

/**
 * Splits a byte stream into packets. WebSocket frames need not align with
 * packets, so bytes are buffered until a whole packet is there.
 */
export class PacketReader {
  /** @param {number} [protocolVersion] */
  constructor(protocolVersion = 4) {
    this.protocolVersion = protocolVersion
    this.buf = new Uint8Array(0)
  }
  /**
   * @param {Uint8Array | ArrayBuffer} chunk
   * @returns {object[]} the packets completed by this chunk
   */
  push(chunk) {
    const bytes = toBytes(chunk)
    let buf
    if (this.buf.length === 0) buf = bytes
    else {
      buf = new Uint8Array(this.buf.length + bytes.length)
      buf.set(this.buf, 0)
      buf.set(bytes, this.buf.length)
    }
    const out = []
    let off = 0
    for (;;) {
      const res = decode(buf, this.protocolVersion, off)
      if (res === null) break
      out.push(res.packet)
      off += res.size
    }
    this.buf = off === buf.length ? new Uint8Array(0) : buf.slice(off)
    return out
  }
}

/** Copies a Uint8Array into a fresh ArrayBuffer (what WebSocket.send takes in k6). */
export function toArrayBuffer(bytes) {
  return bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength
    ? bytes.buffer
    : bytes.slice().buffer
}
