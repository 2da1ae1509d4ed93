/**
 * Whether an outbound PUBLISH fits the client's Maximum Packet Size. A cheap
 * byte count settles almost every case; only a packet within a small margin
 * of the limit is generated to measure it exactly.
 */
import type { IPublishPacket } from 'mqtt-packet'
import mqttPacket from 'mqtt-packet'
import { propertiesSize } from './fast-properties.ts'

// Fixed header (≤ 5), topic length (2), packet id (2), property length (≤ 4).
const MARGIN = 16

/** [5.0 MQTT-3.1.2-24] the server never sends a packet larger than the client's Maximum Packet Size. */
export function fitsPacketSize(packet: IPublishPacket, version: number, max: number | undefined): boolean {
  if (max === undefined) return true
  // the property list's exact size, by the PUBLISH property table; -1: not one the table sizes
  const properties = version === 5 && packet.properties !== undefined ? propertiesSize(packet.properties) : 0
  if (properties >= 0) {
    const payload =
      typeof packet.payload === 'string' ? Buffer.byteLength(packet.payload) : packet.payload.length
    const lower = Buffer.byteLength(packet.topic) + payload + properties
    if (lower > max) return false
    if (lower + MARGIN <= max) return true
  }
  return mqttPacket.generate(packet, { protocolVersion: version as 3 | 4 | 5 }).length <= max
}
