// MQTT 5 PUBLISH properties on the fast paths must be indistinguishable from
// mqtt-packet: random property sets compared with mqtt-packet's own parser and
// generator (whole, split at random points, byte by byte), table cases with
// annotated wire bytes, and the cases the fast path must leave to mqtt-packet.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import mqttPacket from 'mqtt-packet'
import { Connection } from '../../src/connection/connection.ts'
import { encodePublish } from '../../src/connection/fast-encode.ts'
import { parseProperties, propertiesFit, propertiesSize } from '../../src/connection/fast-properties.ts'
import { OutboundBuffer } from '../../src/connection/outbound-buffer.ts'
import { propertyViolation } from '../../src/connection/property-rules.ts'
import { prng, RecordingStream, tick } from './helpers.ts'

type Rand = () => number
type AnyPacket = Parameters<typeof mqttPacket.generate>[0]

const pick = <T>(rand: Rand, xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!
const int = (rand: Rand, max: number) => Math.floor(rand() * (max + 1))

function randomString(rand: Rand, min = 0): string {
  const alphabet = [...pick(rand, ['abc/+#', 'zürich/€/ü', '日本/語', 'x', 'k'])]
  return Array.from({ length: int(rand, 12) + min }, () => pick(rand, alphabet)).join('')
}

const VAR_INTS = [0, 1, 127, 128, 16_383, 16_384, 2_097_151, 2_097_152, 0x0fffffff]

function randomUserProperties(rand: Rand): Record<string, string | string[]> {
  const up: Record<string, string | string[]> = {}
  for (let i = int(rand, 3); i >= 0; i--) {
    // integer-like keys too: they come first in JS key order, for both libraries
    const key = rand() < 0.2 ? String(int(rand, 20)) : randomString(rand)
    up[key] =
      rand() < 0.6 ? randomString(rand) : Array.from({ length: int(rand, 2) + 2 }, () => randomString(rand))
  }
  return up
}

/** A random subset of the PUBLISH properties, in random key order. */
function randomProperties(rand: Rand): Record<string, unknown> {
  const makers: Record<string, () => unknown> = {
    payloadFormatIndicator: () => rand() < 0.5,
    messageExpiryInterval: () => pick(rand, [0, 1, 255, 65_536, 0xffffffff, int(rand, 1e9)]),
    contentType: () => randomString(rand),
    responseTopic: () => randomString(rand),
    correlationData: () =>
      Buffer.from(Array.from({ length: pick(rand, [0, 1, 16, 300]) }, () => int(rand, 255))),
    subscriptionIdentifier: () =>
      rand() < 0.7
        ? pick(rand, VAR_INTS)
        : Array.from({ length: int(rand, 2) + 2 }, () => pick(rand, VAR_INTS.slice(1))),
    topicAlias: () => int(rand, 65_535),
    userProperties: () => randomUserProperties(rand),
  }
  const names = Object.keys(makers).sort(() => rand() - 0.5)
  const props: Record<string, unknown> = {}
  for (const name of names.slice(0, int(rand, names.length))) props[name] = makers[name]!()
  return props
}

function randomPublish(rand: Rand): AnyPacket {
  const qos = pick(rand, [0, 1, 2] as const)
  const packet: Record<string, unknown> = {
    cmd: 'publish',
    topic: randomString(rand, 1),
    payload: Buffer.from(Array.from({ length: pick(rand, [0, 3, 100, 3000]) }, () => int(rand, 255))),
    qos,
    dup: rand() < 0.2,
    retain: rand() < 0.3,
    properties: randomProperties(rand),
  }
  if (qos > 0) packet.messageId = int(rand, 65_535)
  return packet as unknown as AnyPacket
}

function randomPacket(rand: Rand): AnyPacket {
  const r = rand()
  if (r < 0.8) return randomPublish(rand)
  if (r < 0.9) return { cmd: 'puback', messageId: int(rand, 65_535), reasonCode: 0 } as AnyPacket
  return { cmd: 'pingreq' }
}

const generate = (p: AnyPacket) => mqttPacket.generate(p, { protocolVersion: 5 })

/** What mqtt-packet's own parser makes of `wire`, given in one piece: packets, then an error message if any. */
function referenceParse(wire: Buffer): { packets: unknown[]; error: string | null } {
  const parser = mqttPacket.parser({ protocolVersion: 5 })
  const packets: unknown[] = []
  let error: string | null = null
  parser.on('packet', (p) => packets.push(p))
  parser.on('error', (err) => {
    error ??= err.message
  })
  parser.parse(wire)
  return { packets, error }
}

/**
 * What mqttd must make of `wire`: mqtt-packet's parse, cut at the first packet whose properties
 * break the MQTT 5 rules mqttd enforces and mqtt-packet does not (property-rules.ts), which is an error.
 */
function strictReference(wire: Buffer): { packets: unknown[]; error: string | null } {
  const ref = referenceParse(wire)
  const bad = ref.packets.findIndex((p) => {
    const { cmd, properties } = p as { cmd: string; properties?: Record<string, unknown> }
    return properties !== undefined && propertyViolation(cmd, properties) !== null
  })
  return bad < 0 ? ref : { packets: ref.packets.slice(0, bad), error: ref.error ?? 'property rule' }
}

/** What a v5 Connection makes of `wire` fed in chunks of `sizes` (cycled): packets, then whether it errored. */
async function connectionParse(wire: Buffer, sizes: readonly number[]) {
  const raw = new RecordingStream()
  const conn = Connection(raw, { protocolVersion: 5 })
  const packets: unknown[] = []
  let errored = false
  conn.on('data', (p) => packets.push(p))
  conn.on('error', () => {
    errored = true
  })
  await tick()
  for (let off = 0, i = 0; off < wire.length; i++) {
    const size = sizes[i % sizes.length]!
    raw.feed(wire.subarray(off, off + size))
    off += size
  }
  await tick()
  conn.destroy()
  return { packets, errored }
}

/** What a v5 Connection writes for `packet`. */
async function connectionGenerate(packet: AnyPacket): Promise<Buffer> {
  const raw = new RecordingStream()
  const conn = Connection(raw, { protocolVersion: 5 })
  const { cmd, ...opts } = packet as unknown as { cmd: 'publish' } & Record<string, unknown>
  ;(conn[cmd] as (o: object) => boolean)(opts)
  await tick()
  conn.destroy()
  return raw.written()
}

describe('fast paths: v5 PUBLISH properties match mqtt-packet', () => {
  it('parses random publishes with random property sets like mqtt-packet (whole, random splits, byte by byte)', async () => {
    const rand = prng(4242)
    for (let round = 0; round < 20; round++) {
      const wire = Buffer.concat(Array.from({ length: 30 }, () => generate(randomPacket(rand))))
      const expected = strictReference(wire)
      const splits = [
        [wire.length],
        [1],
        Array.from({ length: 16 }, () => pick(rand, [1, 2, 5, 40, 700, 5000])),
      ]
      for (const sizes of splits) {
        const got = await connectionParse(wire, sizes)
        assert.equal(got.errored, expected.error !== null)
        assert.deepStrictEqual(
          got.packets,
          expected.packets,
          `round ${round}, chunk sizes ${sizes.slice(0, 3)}`,
        )
      }
    }
  })

  it('generates random publishes with random property sets byte for byte like mqtt-packet', async () => {
    const rand = prng(4343)
    const raw = new RecordingStream()
    const conn = Connection(raw, { protocolVersion: 5 })
    const expected: Buffer[] = []
    let fast = 0
    for (let i = 0; i < 600; i++) {
      const packet = randomPacket(rand)
      expected.push(generate(packet))
      const { cmd, ...opts } = packet as unknown as { cmd: 'publish' } & Record<string, unknown>
      if (cmd === 'publish' && propertiesSize(opts.properties) >= 0) fast++
      ;(conn[cmd] as (o: object) => boolean)(opts)
    }
    await tick()
    assert.deepStrictEqual(raw.written(), Buffer.concat(expected))
    // the fast path really ran (only `userProperties: {}`-like sets are left to mqtt-packet)
    assert.ok(fast > 400, `${fast} publishes on the fast path`)
    conn.destroy()
  })
})

/** PUBLISH QoS 0, topic 't', payload 'P', with the property bytes `props` (length prefix added here). */
function publishWire(props: number[]): Buffer {
  const body = [0x00, 0x01, 0x74, props.length, ...props, 0x50]
  return Buffer.from([0x30, body.length, ...body])
}

// each case: the properties object, and its annotated wire bytes (id, then value)
const TABLE: { name: string; properties: Record<string, unknown>; bytes: number[] }[] = [
  { name: 'payloadFormatIndicator true', properties: { payloadFormatIndicator: true }, bytes: [0x01, 0x01] },
  {
    name: 'payloadFormatIndicator false',
    properties: { payloadFormatIndicator: false },
    bytes: [0x01, 0x00],
  },
  {
    name: 'messageExpiryInterval (4-byte big endian)',
    properties: { messageExpiryInterval: 0xfedcba98 },
    bytes: [0x02, 0xfe, 0xdc, 0xba, 0x98],
  },
  {
    name: 'contentType (2-byte length + UTF-8)',
    properties: { contentType: 'a/ü' },
    bytes: [0x03, 0x00, 0x04, 0x61, 0x2f, 0xc3, 0xbc],
  },
  {
    name: 'responseTopic',
    properties: { responseTopic: 'r/1' },
    bytes: [0x08, 0x00, 0x03, 0x72, 0x2f, 0x31],
  },
  {
    name: 'correlationData (2-byte length + bytes)',
    properties: { correlationData: Buffer.from([0x00, 0xff]) },
    bytes: [0x09, 0x00, 0x02, 0x00, 0xff],
  },
  {
    name: 'subscriptionIdentifier (variable byte integer)',
    properties: { subscriptionIdentifier: 16_384 },
    bytes: [0x0b, 0x80, 0x80, 0x01],
  },
  {
    name: 'subscriptionIdentifier repeated → array',
    properties: { subscriptionIdentifier: [1, 268_435_455] },
    bytes: [0x0b, 0x01, 0x0b, 0xff, 0xff, 0xff, 0x7f],
  },
  { name: 'topicAlias (2 bytes)', properties: { topicAlias: 0x1234 }, bytes: [0x23, 0x12, 0x34] },
  {
    name: 'userProperties (key, value as 2 strings)',
    properties: { userProperties: { k: 'v' } },
    bytes: [0x26, 0x00, 0x01, 0x6b, 0x00, 0x01, 0x76],
  },
  {
    name: 'userProperties with a repeated key → array of values',
    properties: { userProperties: { k: ['a', 'b'] } },
    bytes: [0x26, 0x00, 0x01, 0x6b, 0x00, 0x01, 0x61, 0x26, 0x00, 0x01, 0x6b, 0x00, 0x01, 0x62],
  },
  {
    name: 'several, in the object key order',
    properties: { topicAlias: 1, payloadFormatIndicator: true },
    bytes: [0x23, 0x00, 0x01, 0x01, 0x01],
  },
]

describe('fast paths: v5 PUBLISH property table', () => {
  for (const c of TABLE) {
    it(`${c.name}: encodes to the annotated bytes, decodes back, like mqtt-packet`, async () => {
      const packet = {
        cmd: 'publish',
        topic: 't',
        payload: Buffer.from('P'),
        qos: 0,
        properties: c.properties,
      }
      const wire = publishWire(c.bytes)
      assert.deepStrictEqual(generate(packet as AnyPacket), wire, 'mqtt-packet agrees with the table')
      // handled by the fast path itself, not by a fallback
      assert.equal(propertiesSize(c.properties), c.bytes.length)
      const out = new OutboundBuffer()
      assert.equal(encodePublish(out, packet, true), true)
      assert.deepStrictEqual(Buffer.concat(out.take()), wire)
      assert.notEqual(parseProperties(wire, 6, 6 + c.bytes.length), null)
      assert.deepStrictEqual(await connectionGenerate(packet as AnyPacket), wire)
      const expected = referenceParse(wire).packets
      assert.deepStrictEqual((await connectionParse(wire, [wire.length])).packets, expected)
      assert.deepStrictEqual((await connectionParse(wire, [1])).packets, expected)
    })
  }

  it('a user property value of "" is replaced by the next value of its key, as mqtt-packet does', async () => {
    const bytes = [0x26, 0x00, 0x01, 0x6b, 0x00, 0x00, 0x26, 0x00, 0x01, 0x6b, 0x00, 0x01, 0x62]
    const wire = publishWire(bytes)
    const props = parseProperties(wire, 6, 6 + bytes.length)
    const up = Object.assign(Object.create(null), { k: 'b' })
    assert.deepStrictEqual(props, { userProperties: up })
    assert.deepStrictEqual((await connectionParse(wire, [wire.length])).packets, referenceParse(wire).packets)
  })
})

// property bytes the fast path must leave to mqtt-packet (parseProperties gives null), with the same outcome
const INBOUND_FALLBACK: { name: string; bytes: number[] }[] = [
  { name: 'unknown property id 0x7f', bytes: [0x7f, 0x00] },
  { name: 'property id 0', bytes: [0x00, 0x00] },
  { name: 'a property a PUBLISH does not carry (reasonString 0x1f)', bytes: [0x1f, 0x00, 0x01, 0x61] },
  { name: 'string longer than the property list', bytes: [0x03, 0x00, 0x05, 0x61] },
  { name: 'topicAlias cut short', bytes: [0x23, 0x01] },
  { name: 'unterminated variable byte integer', bytes: [0x0b, 0x80, 0x80, 0x80, 0x80] },
  { name: 'duplicate topicAlias (single-valued)', bytes: [0x23, 0x00, 0x01, 0x23, 0x00, 0x02] },
  { name: 'duplicate payloadFormatIndicator', bytes: [0x01, 0x00, 0x01, 0x01] },
  { name: 'subscriptionIdentifier 0 then 5', bytes: [0x0b, 0x00, 0x0b, 0x05] },
]

describe('fast paths: v5 PUBLISH properties left to mqtt-packet', () => {
  for (const c of INBOUND_FALLBACK) {
    it(`inbound: ${c.name}`, async () => {
      const wire = publishWire(c.bytes)
      assert.equal(parseProperties(wire, 6, 6 + c.bytes.length), null)
      assert.equal(propertiesFit(wire, 6, 6 + c.bytes.length), false)
      const expected = strictReference(wire)
      for (const sizes of [[wire.length], [1]]) {
        const got = await connectionParse(wire, sizes)
        assert.equal(got.errored, expected.error !== null, `error: ${expected.error}`)
        assert.deepStrictEqual(got.packets, expected.packets)
      }
    })
  }

  it('inbound: the pre-scan (propertiesFit) takes exactly what parseProperties takes, on mutated property bytes', () => {
    const rand = prng(4444)
    let taken = 0
    for (let i = 0; i < 5000; i++) {
      const packet = randomPublish(rand)
      const wire = generate(packet)
      // property list of this publish: after the fixed header, topic and message id
      const body = wire[1]! > 127 ? (wire[2]! > 127 ? 4 : 3) : 2
      let p = body + 2 + wire.readUInt16BE(body) + ((packet as { qos: number }).qos ? 2 : 0)
      let len = wire[p++]!
      if (len > 127) len = (len & 127) + wire[p++]! * 128
      const props = Buffer.from(wire.subarray(p, p + len))
      // mutate a few bytes (ids, lengths, values), sometimes cut the end
      for (let k = int(rand, 3); k > 0 && props.length > 0; k--)
        props[int(rand, props.length - 1)] = int(rand, 255)
      const end = rand() < 0.2 ? int(rand, props.length) : props.length
      const parsed = parseProperties(props, 0, end)
      assert.equal(propertiesFit(props, 0, end), parsed !== null, `case ${i}: ${props.toString('hex')}`)
      if (parsed !== null) taken++
    }
    assert.ok(taken > 500 && taken < 4900, `${taken} taken`)
  })

  it('inbound: a property list longer than the packet goes to mqtt-packet', async () => {
    // property length 9, but only 2 bytes follow inside the packet
    const wire = Buffer.from([0x30, 0x06, 0x00, 0x01, 0x74, 0x09, 0x23, 0x00, 0x30, 0x00])
    const expected = referenceParse(wire)
    const got = await connectionParse(wire, [wire.length])
    assert.equal(got.errored, expected.error !== null)
    assert.deepStrictEqual(got.packets, expected.packets)
  })

  it('outbound: properties that change while read (a getter) leave nothing behind and go to mqtt-packet', () => {
    let reads = 0
    const properties = {
      get contentType() {
        return reads++ === 0 ? 'abc' : 'a'
      },
    }
    const out = new OutboundBuffer()
    assert.equal(propertiesSize(properties), 6)
    reads = 0
    assert.equal(encodePublish(out, { topic: 't', payload: 'P', properties }, true), false)
    assert.equal(out.length, 0)
    assert.deepStrictEqual(out.take(), [])
  })

  const OUTBOUND_FALLBACK: { name: string; properties: unknown; rejected?: boolean }[] = [
    {
      name: 'userProperties: {} (mqtt-packet returns false without an error)',
      properties: { userProperties: {} },
      rejected: true,
    },
    { name: 'an unknown property', properties: { fooBar: 1 } },
    { name: 'topicAlias out of range', properties: { topicAlias: 70_000 }, rejected: true },
    { name: 'topicAlias not an integer', properties: { topicAlias: 1.5 } },
    { name: 'payloadFormatIndicator as a number', properties: { payloadFormatIndicator: 1 } },
    { name: 'topicAlias as an array', properties: { topicAlias: [1, 2] } },
    { name: 'a user property value that is a number', properties: { userProperties: { k: 1 } } },
    { name: 'correlationData as a string', properties: { correlationData: 'abc' } },
    { name: 'properties as an array', properties: [] },
    { name: 'properties with a prototype', properties: Object.create({ topicAlias: 1 }) },
  ]
  for (const c of OUTBOUND_FALLBACK) {
    it(`outbound: ${c.name} is written (or rejected) by mqtt-packet`, async () => {
      assert.equal(propertiesSize(c.properties), -1)
      const packet = {
        cmd: 'publish',
        topic: 't',
        payload: 'P',
        qos: 0,
        properties: c.properties,
      } as AnyPacket
      let want: Buffer | null = null
      try {
        want = generate(packet)
      } catch {}
      const raw = new RecordingStream()
      const conn = Connection(raw, { protocolVersion: 5 })
      let errored = false
      conn.on('error', () => {
        errored = true
      })
      conn.publish({ topic: 't', payload: 'P', qos: 0, properties: c.properties } as never)
      await tick()
      // the slow path's outcome, unchanged: mqtt-packet's bytes, or a coded error and no byte at all
      // (where mqtt-packet writes a broken packet or returns false without an error)
      if (errored || want === null) assert.equal(raw.written().length, 0)
      else assert.deepStrictEqual(raw.written(), want)
      if (c.rejected) assert.equal(errored, true)
      conn.destroy()
    })
  }
})
