// Strings the specifications forbid, decoded by the fast paths and by mqtt-packet's parser
// (packet-parser.ts): each is a malformed packet, so the Connection emits one coded error and
// closes, and no packet carrying the string (nor any after it) is emitted.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { connectRefusal } from '../../src/connection/connect-refusal.ts'
import { Connection } from '../../src/connection/connection.ts'
import { strictString, wellFormed } from '../../src/connection/strict-utf8.ts'
import type { ProtocolVersion } from '../../src/connection/types.ts'
import type { MqttdError } from '../../src/errors.ts'
import { closed, RecordingStream } from './helpers.ts'

const str = (bytes: number[]) => [bytes.length >> 8, bytes.length & 255, ...bytes]
const ascii = (s: string) => [...Buffer.from(s)]
const packet = (type: number, body: number[]) => [type, body.length, ...body]

describe('strictString / wellFormed', () => {
  const cases: [string, number[], string | null][] = [
    ['ASCII', ascii('a/b'), 'a/b'],
    ['empty', [], ''],
    ['two-byte UTF-8', [0x61, 0xc3, 0xbc], 'aü'],
    ['U+0000 alone [3.1.1 MQTT-1.5.3-2] [5.0 MQTT-1.5.4-2]', [0], null],
    ['U+0000 after ASCII [3.1.1 MQTT-1.5.3-2] [5.0 MQTT-1.5.4-2]', [0x61, 0, 0x62], null],
    ['U+0000 after non-ASCII [3.1.1 MQTT-1.5.3-2] [5.0 MQTT-1.5.4-2]', [0xc3, 0xbc, 0, 0x62], null],
    ['U+0001 is allowed (only discouraged)', [0x61, 0x01], 'a\u0001'],
    ['U+007F is allowed (only discouraged)', [0x7f], '\u007f'],
    ['a stray FF [3.1.1 MQTT-1.5.3-1] [5.0 MQTT-1.5.4-1]', [0x61, 0xff], null],
    ['an overlong C0 80 (U+0000 in disguise) [3.1.1 MQTT-1.5.3-1] [5.0 MQTT-1.5.4-1]', [0xc0, 0x80], null],
  ]
  for (const [name, bytes, want] of cases) {
    it(name, () => {
      // padded on both sides: the check must stay within [start, end)
      const b = Buffer.from([0, 0xff, ...bytes, 0, 0xff])
      assert.equal(strictString(b, 2, 2 + bytes.length), want)
      assert.equal(wellFormed(b, 2, 2 + bytes.length), want !== null)
    })
  }
})

/** Feeds `bytes` to a Connection at `version` and collects what it emits until it closes. */
async function feed(version: ProtocolVersion, bytes: number[]) {
  const raw = new RecordingStream()
  const conn = Connection(raw, { protocolVersion: version })
  const packets: string[] = []
  const errors: MqttdError[] = []
  conn.on('data', (p) => packets.push(p.cmd))
  conn.on('error', (e) => errors.push(e as MqttdError))
  // closed on the error; without one, the end of input ends it (so a regression fails, not hangs)
  const done = Promise.race([closed(conn), new Promise<void>((resolve) => conn.once('end', () => resolve()))])
  raw.feed(bytes)
  raw.push(null)
  await done
  return { packets, errors }
}

describe('U+0000 in a string is a malformed packet [3.1.1 MQTT-1.5.3-2] [5.0 MQTT-1.5.4-2]', () => {
  const pingreq = [0xc0, 0]
  for (const version of [4, 5] as const) {
    const props = (p: number[] = []) => (version === 5 ? [p.length, ...p] : [])
    const cases: [string, number[]][] = [
      ['a PUBLISH topic (fast path)', packet(0x30, [...str(ascii('a\0b')), ...props(), 0x78])],
      [
        'a PUBLISH topic, U+0000 after non-ASCII (fast path)',
        packet(0x30, [...str([0xc3, 0xbc, 0]), ...props()]),
      ],
      ['a QoS 1 PUBLISH topic (fast path)', packet(0x32, [...str([0]), 0, 1, ...props()])],
      ['a SUBSCRIBE filter (parser)', packet(0x82, [0, 1, ...props(), ...str(ascii('a\0')), 0])],
      ['an UNSUBSCRIBE filter (parser)', packet(0xa2, [0, 1, ...props(), ...str(ascii('\0'))])],
    ]
    if (version === 5) {
      cases.push(
        [
          'a user property value (fast path)',
          packet(0x30, [...str(ascii('t')), ...props([0x26, ...str(ascii('k')), ...str([0x76, 0])])]),
        ],
        ['a content type (fast path)', packet(0x30, [...str(ascii('t')), ...props([0x03, ...str([0])])])],
        [
          'a response topic (fast path)',
          packet(0x30, [...str(ascii('t')), ...props([0x08, ...str(ascii('r\0'))])]),
        ],
        ['a reason string (parser)', packet(0x40, [0, 1, 0x80, ...props([0x1f, ...str([0])])])],
      )
    }
    for (const [name, bytes] of cases) {
      it(`MQTT ${version}: ${name}`, async () => {
        const { packets, errors } = await feed(version, [...bytes, ...pingreq])
        assert.deepEqual(packets, [])
        assert.equal(errors.length, 1)
        assert.equal(errors[0]!.code, 'MQTTD_ERR_MALFORMED_PACKET')
        assert.match(errors[0]!.message, /U\+0000/)
      })
    }
    it(`MQTT ${version}: a PUBLISH with U+0001 in its topic is not malformed (control case)`, async () => {
      const raw = new RecordingStream()
      const conn = Connection(raw, { protocolVersion: version })
      const got = new Promise<string>((resolve) => conn.once('publish', (p) => resolve(p.topic)))
      raw.feed(packet(0x30, [...str(ascii('a\u0001')), ...props()]))
      assert.equal(await got, 'a\u0001')
      conn.destroy()
    })
  }
  it('MQTT 5: a CONNECT client id with U+0000 carries CONNACK 0x85 on the error', async () => {
    const connect = packet(0x10, [...str(ascii('MQTT')), 5, 0x02, 0, 0, 0, ...str(ascii('c\0'))])
    const { errors } = await feed(4, connect)
    assert.equal(errors.length, 1)
    assert.match(errors[0]!.message, /U\+0000 in a connect client id/)
    assert.deepEqual(connectRefusal(errors[0]!), { protocolVersion: 5, code: 0x85 })
  })
})
