// The CONNACK fast path (fast-encode.ts, one per connection) must write what
// mqtt-packet writes, and leave to mqtt-packet what it does not handle (its
// errors included).
import assert from 'node:assert/strict'
import { test } from 'node:test'
import mqttPacket from 'mqtt-packet'
import { Connection } from '../../src/connection/connection.ts'
import { encodeConnack } from '../../src/connection/fast-encode.ts'
import { OutboundBuffer } from '../../src/connection/outbound-buffer.ts'
import { RecordingStream, tick } from './helpers.ts'

type AnyPacket = Parameters<typeof mqttPacket.generate>[0]

test('a CONNACK without properties is encoded as mqtt-packet encodes it, for every level, flag and code', () => {
  for (const protocolVersion of [3, 4, 5]) {
    const v5 = protocolVersion === 5
    for (const sessionPresent of [undefined, false, true, 0, 1]) {
      for (const code of [0, 1, 5, 0x80, 0x87, 0x9f, 255]) {
        const packet = {
          cmd: 'connack',
          sessionPresent,
          ...(v5 ? { reasonCode: code } : { returnCode: code }),
        }
        const out = new OutboundBuffer()
        assert.equal(encodeConnack(out, packet, v5), true)
        assert.deepStrictEqual(
          Buffer.concat(out.take()),
          mqttPacket.generate(packet as AnyPacket, { protocolVersion }),
          JSON.stringify({ protocolVersion, packet }),
        )
      }
    }
  }
})

test('a CONNACK the fast path does not take (properties, a code that is not a byte) is left to mqtt-packet', () => {
  const cases: Array<[Record<string, unknown>, boolean]> = [
    [{ reasonCode: 0, properties: { topicAliasMaximum: 10 } }, true],
    [{ reasonCode: 0, properties: {} }, true],
    [{ returnCode: 0 }, true], // v5 reads reasonCode
    [{ returnCode: 256 }, false],
    [{ returnCode: -1 }, false],
    [{ returnCode: 1.5 }, false],
    [{ returnCode: '0' }, false],
    [{}, false],
  ]
  for (const [packet, v5] of cases) {
    const out = new OutboundBuffer()
    assert.equal(encodeConnack(out, packet, v5), false, JSON.stringify(packet))
    assert.equal(out.length, 0, 'nothing written')
  }
})

test('Connection.connack writes the fast path bytes and still reports an invalid code as before', async () => {
  const stream = new RecordingStream()
  const connection = new Connection(stream)
  connection.connack({ returnCode: 0, sessionPresent: true })
  await tick()
  assert.deepStrictEqual(stream.written(), Buffer.from([0x20, 0x02, 0x01, 0x00]))
  const errors: Error[] = []
  connection.on('error', (err: Error) => errors.push(err))
  connection.connack({ returnCode: 'x' } as unknown as { returnCode: number })
  await tick()
  assert.equal(errors.length, 1)
  assert.match(errors[0]!.message, /Invalid return code/)
})
