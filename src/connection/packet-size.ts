/**
 * Whether an outbound PUBLISH fits the client's Maximum Packet Size. A cheap
 * byte count settles almost every case; only a packet within a small margin
 * of the limit is generated to measure it exactly.
 */
import type { IPublishPacket } from 'mqtt-packet'
import mqttPacket from 'mqtt-packet'

// Fixed header (≤ 5), topic length (2), packet id (2), property length (≤ 4), and per-property ids/lengths.
const MARGIN = 64

function propertyBytes(packet: IPublishPacket): number {
  const p = packet.properties
  if (p === undefined) return 0
  let n = 0
  if (p.contentType !== undefined) n += Buffer.byteLength(p.contentType)
  if (p.responseTopic !== undefined) n += Buffer.byteLength(p.responseTopic)
  if (p.correlationData !== undefined) n += p.correlationData.length
  if (p.userProperties !== undefined) {
    for (const [key, value] of Object.entries(p.userProperties)) {
      for (const v of Array.isArray(value) ? value : [value])
        n += Buffer.byteLength(key) + Buffer.byteLength(v) + 5
    }
  }
  const ids = p.subscriptionIdentifier
  if (ids !== undefined) n += (Array.isArray(ids) ? ids.length : 1) * 5
  return n
}

/** [5.0 MQTT-3.1.2-24] the server never sends a packet larger than the client's Maximum Packet Size. */
export function fitsPacketSize(packet: IPublishPacket, version: number, max: number | undefined): boolean {
  if (max === undefined) return true
  const payload =
    typeof packet.payload === 'string' ? Buffer.byteLength(packet.payload) : packet.payload.length
  const lower = Buffer.byteLength(packet.topic) + payload + propertyBytes(packet)
  if (lower > max) return false
  if (lower + MARGIN <= max) return true
  return mqttPacket.generate(packet, { protocolVersion: version as 3 | 4 | 5 }).length <= max
}
