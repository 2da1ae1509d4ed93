import assert from 'node:assert/strict'
import { test } from 'node:test'
import mqttPacket, { type IPublishPacket } from 'mqtt-packet'
import { fitsPacketSize } from '../../src/connection/packet-size.ts'

function publish(payload: number, properties?: IPublishPacket['properties']): IPublishPacket {
  const p: IPublishPacket = {
    cmd: 'publish',
    topic: 'a/b',
    payload: Buffer.alloc(payload),
    qos: 1,
    messageId: 7,
    dup: false,
    retain: false,
  }
  if (properties !== undefined) p.properties = properties
  return p
}

test('[5.0 MQTT-3.1.2-24] fitsPacketSize agrees with the generated size at and around the limit', () => {
  const cases = [
    publish(100),
    publish(200, {
      userProperties: { k: ['v1', 'v2'] },
      correlationData: Buffer.alloc(9),
      contentType: 'x/y',
    }),
    publish(300, { subscriptionIdentifier: [1, 300], messageExpiryInterval: 60, topicAlias: 3 }),
    // 2 bytes each on the wire: counted as 5 each, they once made a packet at the limit "too large"
    publish(50, { subscriptionIdentifier: Array.from({ length: 40 }, (_, i) => i + 1) }),
    publish(10, { payloadFormatIndicator: true, responseTopic: 'r/ü', contentType: '' }),
  ]
  for (const packet of cases) {
    for (const version of [4, 5] as const) {
      if (version === 4 && packet.properties !== undefined) continue
      const size = mqttPacket.generate(packet, { protocolVersion: version }).length
      for (const max of [size - 100, size - 1, size, size + 1, size + 100]) {
        assert.equal(
          fitsPacketSize(packet, version, max),
          size <= max,
          `size ${size}, max ${max}, v${version}`,
        )
      }
    }
  }
  assert.equal(fitsPacketSize(publish(1_000_000), 5, undefined), true, 'no maximum announced')
})
