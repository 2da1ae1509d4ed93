import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import mqttPacket from 'mqtt-packet'
import { type CodecPacket, decode, encode, PacketReader } from '../../load-tests/k6/lib/mqtt-codec.js'

// The k6 codec must agree with mqtt-packet, the parser the server uses, in both
// directions: our bytes parse there, and its bytes decode here.

type Fixture = { name: string; version: 4 | 5; packet: CodecPacket }

const b = (s: string) => Buffer.from(s)

const v4: Fixture[] = [
  {
    name: 'CONNECT minimal',
    version: 4,
    packet: {
      cmd: 'connect',
      protocolId: 'MQTT',
      protocolVersion: 4,
      clean: true,
      keepalive: 30,
      clientId: 'k6-1',
    },
  },
  {
    name: 'CONNECT with will, username, password',
    version: 4,
    packet: {
      cmd: 'connect',
      protocolId: 'MQTT',
      protocolVersion: 4,
      clean: false,
      keepalive: 0,
      clientId: 'ünïcødé-✓',
      will: { topic: 'will/t', payload: b('bye'), qos: 1, retain: true },
      username: 'user',
      password: b('secret'),
    },
  },
  { name: 'CONNACK accepted', version: 4, packet: { cmd: 'connack', sessionPresent: false, returnCode: 0 } },
  { name: 'CONNACK refused', version: 4, packet: { cmd: 'connack', sessionPresent: true, returnCode: 5 } },
  {
    name: 'PUBLISH QoS 0',
    version: 4,
    packet: { cmd: 'publish', topic: 'a/b', payload: b('x'.repeat(200)), qos: 0, retain: false, dup: false },
  },
  {
    name: 'PUBLISH QoS 1 retain',
    version: 4,
    packet: {
      cmd: 'publish',
      topic: 'a/b',
      payload: b('hello'),
      qos: 1,
      messageId: 42,
      retain: true,
      dup: false,
    },
  },
  {
    name: 'PUBLISH QoS 2 dup',
    version: 4,
    packet: {
      cmd: 'publish',
      topic: 't',
      payload: b(''),
      qos: 2,
      messageId: 65535,
      retain: false,
      dup: true,
    },
  },
  { name: 'PUBACK', version: 4, packet: { cmd: 'puback', messageId: 1 } },
  { name: 'PUBREC', version: 4, packet: { cmd: 'pubrec', messageId: 2 } },
  { name: 'PUBREL', version: 4, packet: { cmd: 'pubrel', messageId: 3 } },
  { name: 'PUBCOMP', version: 4, packet: { cmd: 'pubcomp', messageId: 4 } },
  {
    name: 'SUBSCRIBE',
    version: 4,
    packet: {
      cmd: 'subscribe',
      messageId: 9,
      subscriptions: [
        { topic: 'a/+', qos: 0 },
        { topic: '$share/g/b/#', qos: 1 },
        { topic: 'c', qos: 2 },
      ],
    },
  },
  { name: 'SUBACK', version: 4, packet: { cmd: 'suback', messageId: 9, granted: [0, 1, 2, 128] } },
  {
    name: 'UNSUBSCRIBE',
    version: 4,
    packet: { cmd: 'unsubscribe', messageId: 10, unsubscriptions: ['a/+', 'b'] },
  },
  { name: 'UNSUBACK', version: 4, packet: { cmd: 'unsuback', messageId: 10 } },
  { name: 'PINGREQ', version: 4, packet: { cmd: 'pingreq' } },
  { name: 'PINGRESP', version: 4, packet: { cmd: 'pingresp' } },
  { name: 'DISCONNECT', version: 4, packet: { cmd: 'disconnect' } },
]

const v5: Fixture[] = [
  {
    name: 'CONNECT with properties and will properties',
    version: 5,
    packet: {
      cmd: 'connect',
      protocolId: 'MQTT',
      protocolVersion: 5,
      clean: true,
      keepalive: 60,
      clientId: 'v5-client',
      properties: {
        sessionExpiryInterval: 3600,
        receiveMaximum: 100,
        maximumPacketSize: 1048576,
        topicAliasMaximum: 10,
        requestProblemInformation: true,
        userProperties: { app: 'k6', multi: ['1', '2'] },
      },
      will: {
        topic: 'will/v5',
        payload: b('gone'),
        qos: 2,
        retain: false,
        properties: { willDelayInterval: 5, contentType: 'text/plain', payloadFormatIndicator: true },
      },
      username: 'u',
      password: b('p'),
    },
  },
  {
    name: 'CONNACK with properties',
    version: 5,
    packet: {
      cmd: 'connack',
      sessionPresent: false,
      reasonCode: 0,
      properties: {
        assignedClientIdentifier: 'auto-1',
        maximumQoS: 1,
        retainAvailable: false,
        serverKeepAlive: 20,
        sharedSubscriptionAvailable: true,
      },
    },
  },
  {
    name: 'CONNACK refused',
    version: 5,
    packet: { cmd: 'connack', sessionPresent: false, reasonCode: 0x87 },
  },
  {
    name: 'PUBLISH QoS 0',
    version: 5,
    packet: { cmd: 'publish', topic: 'x', payload: b('p0'), qos: 0, retain: false, dup: false },
  },
  {
    name: 'PUBLISH QoS 1 with properties',
    version: 5,
    packet: {
      cmd: 'publish',
      topic: 'r/q',
      payload: b('p1'),
      qos: 1,
      messageId: 7,
      retain: false,
      dup: false,
      properties: {
        messageExpiryInterval: 30,
        responseTopic: 'reply/1',
        correlationData: b('corr'),
        topicAlias: 3,
        userProperties: { k: 'v' },
      },
    },
  },
  {
    name: 'PUBLISH QoS 2',
    version: 5,
    packet: { cmd: 'publish', topic: 'q2', payload: b('p2'), qos: 2, messageId: 8, retain: true, dup: false },
  },
  { name: 'PUBACK success', version: 5, packet: { cmd: 'puback', messageId: 7, reasonCode: 0 } },
  {
    name: 'PUBACK no subscribers with reason string',
    version: 5,
    packet: { cmd: 'puback', messageId: 7, reasonCode: 0x10, properties: { reasonString: 'nobody' } },
  },
  { name: 'PUBREC', version: 5, packet: { cmd: 'pubrec', messageId: 8, reasonCode: 0 } },
  { name: 'PUBREL', version: 5, packet: { cmd: 'pubrel', messageId: 8, reasonCode: 0 } },
  { name: 'PUBCOMP', version: 5, packet: { cmd: 'pubcomp', messageId: 8, reasonCode: 0 } },
  {
    name: 'SUBSCRIBE with options and subscription identifier',
    version: 5,
    packet: {
      cmd: 'subscribe',
      messageId: 11,
      properties: { subscriptionIdentifier: 300 },
      subscriptions: [
        { topic: 'a/#', qos: 1, nl: true, rap: false, rh: 2 },
        { topic: 'b', qos: 0, nl: false, rap: true, rh: 0 },
      ],
    },
  },
  { name: 'SUBACK', version: 5, packet: { cmd: 'suback', messageId: 11, granted: [1, 0x87] } },
  {
    name: 'UNSUBSCRIBE',
    version: 5,
    packet: { cmd: 'unsubscribe', messageId: 12, unsubscriptions: ['a/#'] },
  },
  { name: 'UNSUBACK', version: 5, packet: { cmd: 'unsuback', messageId: 12, granted: [0, 0x11] } },
  { name: 'PINGREQ', version: 5, packet: { cmd: 'pingreq' } },
  { name: 'PINGRESP', version: 5, packet: { cmd: 'pingresp' } },
  {
    name: 'DISCONNECT with reason and properties',
    version: 5,
    packet: {
      cmd: 'disconnect',
      reasonCode: 0x8e,
      properties: { reasonString: 'taken over', sessionExpiryInterval: 0 },
    },
  },
]

/** Buffers and Uint8Arrays to arrays, null-prototype objects to plain ones. */
function normalize(value: unknown): unknown {
  if (value instanceof Uint8Array) return Array.from(value)
  if (Array.isArray(value)) return value.map(normalize)
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {}
    for (const [k, v] of Object.entries(value)) if (v !== undefined) out[k] = normalize(v)
    return out
  }
  return value
}

/** The decoded packet, reduced to the fields the fixture sets. */
function pick(decoded: Record<string, unknown>, expected: CodecPacket): unknown {
  const out: Record<string, unknown> = {}
  for (const key of Object.keys(expected)) out[key] = decoded[key]
  return normalize(out)
}

function parseWithMqttPacket(bytes: Uint8Array, version: number): Record<string, unknown>[] {
  const parser = mqttPacket.parser({ protocolVersion: version })
  const packets: Record<string, unknown>[] = []
  const errors: Error[] = []
  parser.on('packet', (p) => packets.push(p as unknown as Record<string, unknown>))
  parser.on('error', (e) => errors.push(e))
  parser.parse(Buffer.from(bytes))
  assert.deepEqual(errors, [])
  return packets
}

for (const fixture of [...v4, ...v5]) {
  const label = `${fixture.version === 5 ? 'v5' : 'v3.1.1'} ${fixture.name}`
  describe(`mqtt-codec ${label}`, () => {
    test('our encode parses in mqtt-packet to the same packet', () => {
      const bytes = encode(fixture.packet, fixture.version)
      const parsed = parseWithMqttPacket(bytes, fixture.version)
      assert.equal(parsed.length, 1)
      assert.deepEqual(pick(parsed[0]!, fixture.packet), normalize(fixture.packet))
    })

    test('mqtt-packet generate decodes here to the same packet', () => {
      const bytes = mqttPacket.generate(fixture.packet as unknown as mqttPacket.Packet, {
        protocolVersion: fixture.version,
      })
      const res = decode(new Uint8Array(bytes), fixture.version)
      assert.ok(res, 'a whole packet')
      assert.equal(res.size, bytes.length)
      assert.deepEqual(pick(res.packet, fixture.packet), normalize(fixture.packet))
    })

    test('PacketReader reassembles it from one-byte chunks', () => {
      const bytes = encode(fixture.packet, fixture.version)
      const reader = new PacketReader(fixture.version)
      const out: CodecPacket[] = []
      for (const byte of bytes) out.push(...reader.push(new Uint8Array([byte])))
      assert.equal(out.length, 1)
      assert.deepEqual(pick(out[0]!, fixture.packet), normalize(fixture.packet))
    })
  })
}

describe('mqtt-codec stream handling', () => {
  test('several packets in one chunk split correctly, partial tail kept', () => {
    const a = encode({ cmd: 'publish', topic: 't', payload: b('1'), qos: 1, messageId: 1 })
    const c = encode({ cmd: 'pingresp' })
    const big = encode({ cmd: 'publish', topic: 't', payload: new Uint8Array(300), qos: 0 })
    const all = new Uint8Array([...a, ...c, ...big])
    const reader = new PacketReader(4)
    const first = reader.push(all.subarray(0, a.length + c.length + 3))
    assert.deepEqual(
      first.map((p) => p.cmd),
      ['publish', 'pingresp'],
    )
    const rest = reader.push(all.subarray(a.length + c.length + 3))
    assert.equal(rest.length, 1)
    assert.equal((rest[0]!.payload as Uint8Array).length, 300)
  })

  test('a two-byte remaining length (>127) is encoded as mqtt-packet does', () => {
    const packet = { cmd: 'publish', topic: 'len', payload: Buffer.alloc(20000, 7), qos: 0 }
    assert.deepEqual(Array.from(encode(packet)), Array.from(mqttPacket.generate(packet as mqttPacket.Packet)))
  })

  test('a truncated field is reported as malformed, not read past the packet', () => {
    // PUBLISH whose topic length (5) overruns its remaining length (3)
    assert.throws(() => decode(new Uint8Array([0x30, 3, 0, 5, 0x61])), /malformed/)
  })
})
