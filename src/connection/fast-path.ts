import Packet from 'mqtt-packet/packet.js'
import { parseProperties, propertiesFit } from './fast-properties.ts'
import { strictString } from './strict-utf8.ts'
import type { Packet as AnyPacket } from './types.ts'

/**
 * End of the packet at `pos` if the fast path may handle it, else -1: a
 * PUBLISH (in v5 with a property list of up to 16 KiB) or a 2-byte PUBACK, complete in the chunk, with a 1- or
 * 2-byte remaining length (up to 16 KiB), within `maxPacketSize`, and
 * well-formed (QoS ≤ 2, topic inside the packet).
 */
function fastEnd(chunk: Buffer, pos: number, end: number, v5: boolean, maxPacketSize: number): number {
  if (pos + 2 > end) return -1
  const b0 = chunk[pos]!
  const type = b0 >> 4
  if (type !== 3 && b0 !== 0x40) return -1
  let len = chunk[pos + 1]!
  let body = pos + 2
  if (len > 127) {
    if (body >= end) return -1
    const b2 = chunk[body]!
    if (b2 > 127) return -1
    len = (len & 127) + b2 * 128
    body++
  }
  const packetEnd = body + len
  if (packetEnd > end || packetEnd - pos > maxPacketSize) return -1
  if (type === 3) {
    const qos = (b0 >> 1) & 3
    if (qos === 3 || len < 2) return -1
    let p = body + 2 + ((chunk[body]! << 8) | chunk[body + 1]!)
    if (qos !== 0) p += 2
    // v5: a property list with a 1- or 2-byte length that parseProperties takes
    if (v5) {
      if (p >= packetEnd) return -1
      const l1 = chunk[p++]!
      if (l1 > 127) {
        if (p >= packetEnd) return -1
        const l2 = chunk[p++]!
        if (l2 > 127) return -1
        const propsEnd = p + (l1 & 127) + l2 * 128
        if (propsEnd > packetEnd || !propertiesFit(chunk, p, propsEnd)) return -1
        p = propsEnd
      } else if (l1 !== 0) {
        const propsEnd = p + l1
        if (propsEnd > packetEnd || !propertiesFit(chunk, p, propsEnd)) return -1
        p = propsEnd
      }
    }
    if (p > packetEnd) return -1
  } else if (len !== 2) return -1
  return packetEnd
}

/** Where {@link parseFast} delivers: an object with a method, not a closure kept per connection. */
export interface PacketSink {
  /** A parsed packet; returns false to stop parsing (the connection closed). */
  fastPacket(packet: AnyPacket): boolean
}

/**
 * Parses the packets that dominate traffic (PUBLISH, with the v5 properties
 * `parseProperties` mirrors, and 2-byte PUBACK) straight from a chunk, at a packet boundary, into the same
 * `Packet` objects mqtt-packet builds. mqtt-packet's parser copies every chunk
 * into a BufferList and consumes it packet by packet; this skips that.
 *
 * It stops (returning the offset reached) at the first packet it does not
 * handle (see `fastEnd` and `parseProperties`): the caller hands that one to mqtt-packet's parser,
 * which parses, rejects or buffers it exactly as it always does.
 *
 * `sink.fastPacket` returns false to stop (the connection was closed by a listener).
 */
export function parseFast(
  chunk: Buffer,
  start: number,
  v5: boolean,
  maxPacketSize: number,
  sink: PacketSink,
): number {
  const end = chunk.length
  let pos = start
  for (;;) {
    const packetEnd = fastEnd(chunk, pos, end, v5, maxPacketSize)
    if (packetEnd < 0) return pos
    const b0 = chunk[pos]!
    const body = chunk[pos + 1]! > 127 ? pos + 3 : pos + 2
    const packet = new Packet()
    if (b0 >> 4 === 3) {
      const qos = (b0 >> 1) & 3
      const topicEnd = body + 2 + ((chunk[body]! << 8) | chunk[body + 1]!)
      packet.cmd = 'publish'
      packet.retain = (b0 & 1) !== 0
      packet.qos = qos
      packet.dup = (b0 & 8) !== 0
      packet.length = packetEnd - body
      const topic = strictString(chunk, body + 2, topicEnd)
      // ill-formed UTF-8: mqtt-packet's parser (packet-parser.ts) rejects this packet
      if (topic === null) return pos
      packet.topic = topic
      let p = topicEnd
      if (qos !== 0) {
        packet.messageId = (chunk[p]! << 8) | chunk[p + 1]!
        p += 2
      }
      if (v5) {
        const l1 = chunk[p++]!
        if (l1 !== 0) {
          let propsLen = l1
          if (l1 > 127) propsLen = (l1 & 127) + chunk[p++]! * 128
          const propsEnd = p + propsLen
          const properties = parseProperties(chunk, p, propsEnd)
          // anything it does not mirror exactly: mqtt-packet parses (or rejects) this packet
          if (properties === null) return pos
          ;(packet as { properties?: unknown }).properties = properties
          p = propsEnd
        }
      }
      packet.payload = chunk.subarray(p, packetEnd)
    } else {
      packet.cmd = 'puback'
      packet.length = 2
      packet.messageId = (chunk[body]! << 8) | chunk[body + 1]!
      // mqtt-packet: a v5 PUBACK without reason code means 0x00
      if (v5) packet.reasonCode = 0
    }
    pos = packetEnd
    if (!sink.fastPacket(packet as unknown as AnyPacket)) return pos
  }
}

/**
 * End of the run of packets starting at `pos` that the fast path leaves to
 * mqtt-packet: the first packet always, then every following one up to the
 * next one the fast path handles. A packet cut off by the chunk end (or a
 * malformed length) extends the run to the chunk end; the parser buffers or
 * rejects it.
 */
export function slowRunEnd(chunk: Buffer, pos: number, v5: boolean, maxPacketSize: number): number {
  const end = chunk.length
  let p = pos
  while (p < end) {
    if (p !== pos && fastEnd(chunk, p, end, v5, maxPacketSize) >= 0) return p
    let i = p + 1
    let len = 0
    let mul = 1
    for (let k = 0; ; k++) {
      if (i >= end || k === 4) return end
      const b = chunk[i++]!
      len += (b & 127) * mul
      mul *= 128
      if (b < 128) break
    }
    p = i + len
  }
  return Math.min(p, end)
}
