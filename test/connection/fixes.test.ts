// The six defects of mqtt-connection 4.1.0 (and two of mqtt-packet) that Connection
// fixes. Each test asserts the fixed behaviour; where it is cheap, the same scenario
// runs against mqtt-connection to show it fails there.
import assert from 'node:assert/strict'
import { once } from 'node:events'
import { describe, it } from 'node:test'
import mqttPacket from 'mqtt-packet'
import { Connection } from '../../src/connection/connection.ts'
import { MqttdError } from '../../src/errors.ts'
import { closed, RecordingStream, socketPair, tick } from './helpers.ts'
import { LegacyConnection } from './legacy.ts'

const connectV5 = mqttPacket.generate({ cmd: 'connect', clientId: 'c1', protocolVersion: 5 })
const publishV5 = mqttPacket.generate(
  {
    cmd: 'publish',
    topic: 'a/b',
    payload: Buffer.from('hello'),
    qos: 1,
    messageId: 7,
    dup: false,
    retain: false,
    properties: { contentType: 'text/plain' },
  },
  { protocolVersion: 5 },
)

describe('fix 1: no bytes lost when the version switches on CONNECT', () => {
  // CONNECT plus the first half of a PUBLISH in one chunk, the rest in the next
  const chunk1 = Buffer.concat([connectV5, publishV5.subarray(0, 6)])
  const chunk2 = publishV5.subarray(6)

  it('parses a PUBLISH split around the CONNECT chunk with the v5 rules', async () => {
    const raw = new RecordingStream()
    const conn = Connection(raw)
    const publishes: unknown[] = []
    conn.on('publish', (p) => publishes.push(p))
    await tick()
    raw.feed(chunk1)
    raw.feed(chunk2)
    await tick()
    assert.equal(conn.protocolVersion, 5)
    assert.equal(publishes.length, 1)
    const p = publishes[0] as { topic: string; payload: Buffer; properties: object; messageId: number }
    assert.equal(p.topic, 'a/b')
    assert.equal(p.messageId, 7)
    assert.deepEqual(p.properties, { contentType: 'text/plain' })
    assert.equal(p.payload.toString(), 'hello')
    conn.destroy()
  })

  it('applies the v5 rules to a PUBLISH in the same chunk as the CONNECT (no properties: fast path)', async () => {
    const raw = new RecordingStream()
    const conn = Connection(raw)
    const payloads: string[] = []
    conn.on('publish', (p) => payloads.push(p.payload.toString('hex')))
    await tick()
    const plain = mqttPacket.generate(
      { cmd: 'publish', topic: 't', payload: Buffer.from('ab'), qos: 0, dup: false, retain: false },
      { protocolVersion: 5 },
    )
    raw.feed(Buffer.concat([connectV5, plain, plain]))
    await tick()
    assert.deepEqual(payloads, ['6162', '6162'])
    conn.destroy()
  })

  it('mqtt-connection loses that PUBLISH (it swaps the parser with bytes still buffered)', async () => {
    const [peer, raw] = socketPair()
    const conn = LegacyConnection(raw)
    let publishes = 0
    conn.on('publish', () => publishes++)
    conn.on('error', () => {})
    peer.write(chunk1)
    await tick()
    peer.write(chunk2)
    await tick()
    assert.equal(publishes, 0)
    conn.destroy()
  })
})

describe('fix 2: write backpressure', () => {
  it('returns false once the peer stops reading, then emits drain when it reads again', async () => {
    const [peer, raw] = socketPair()
    const conn = Connection(raw)
    const payload = Buffer.alloc(1000)
    let sent = 0
    while (conn.publish({ topic: 't', payload })) {
      sent++
      assert.ok(sent < 1000, 'never reported backpressure')
    }
    // the batch is bounded by the stream's high-water mark, not by what the caller sends
    assert.ok(sent * 1000 <= 4 * raw.writableHighWaterMark, `buffered ${sent} KB before reporting`)
    const drained = once(conn, 'drain')
    peer.resume()
    await drained
    assert.equal(conn.publish({ topic: 't', payload }), true)
    conn.destroy()
  })

  it('mqtt-connection gives the caller no backpressure signal', () => {
    const [, raw] = socketPair()
    const conn = LegacyConnection(raw)
    assert.equal(conn.publish({ topic: 't', payload: Buffer.alloc(100_000) }), undefined)
    conn.destroy()
  })
})

describe('fix 3: an invalid outgoing packet is reported and the connection stays usable', () => {
  it('emits one coded error, fails the callback, and still sends the next packet', async () => {
    const raw = new RecordingStream()
    const conn = Connection(raw)
    const errors: Error[] = []
    conn.on('error', (err) => errors.push(err))
    const cbErr = await new Promise<Error | null | undefined>((resolve) =>
      conn.publish({ topic: 123 as unknown as string }, resolve),
    )
    assert.ok(cbErr instanceof MqttdError)
    assert.equal(cbErr.code, 'MQTTD_ERR_INVALID_PACKET')
    assert.equal(errors.length, 1)
    assert.equal(errors[0], cbErr)
    await new Promise((resolve) => conn.pingreq(undefined, resolve))
    assert.deepEqual([...raw.written()], [0xc0, 0])
    assert.equal(conn.destroyed, false)
    conn.destroy()
  })

  it('reports `userProperties: {}` (mqtt-packet returns false without an error) and leaves no partial bytes', async () => {
    const raw = new RecordingStream()
    const conn = Connection(raw, { protocolVersion: 5 })
    const errors: MqttdError[] = []
    conn.on('error', (err) => errors.push(err as MqttdError))
    conn.pingresp()
    conn.puback({ messageId: 1, reasonCode: 0, properties: { userProperties: {} } })
    conn.pingresp()
    await tick()
    assert.equal(errors.length, 1)
    assert.equal(errors[0]!.code, 'MQTTD_ERR_INVALID_PACKET')
    assert.deepEqual([...raw.written()], [0xd0, 0, 0xd0, 0])
    conn.destroy()
  })

  it('mqtt-connection stalls silently after an invalid packet: the next one is never written', async () => {
    const [peer, raw] = socketPair()
    const conn = LegacyConnection(raw)
    conn.on('error', () => {})
    let bytes = 0
    peer.on('data', (d: Buffer) => {
      bytes += d.length
    })
    conn.publish({ topic: 123 })
    let cbErr: unknown = 'not called'
    conn.publish({ topic: 'ok', payload: 'x' }, (err) => {
      cbErr = err
    })
    await tick()
    await tick()
    assert.equal(bytes, 0)
    assert.equal(cbErr, undefined) // its callback pretends success
    conn.destroy()
  })
})

describe('fix 4: destroy()', () => {
  it('sets destroyed, closes the raw stream and fails later writes with MQTTD_ERR_CONNECTION_DESTROYED', async () => {
    const [, raw] = socketPair()
    const conn = Connection(raw)
    const closed = once(conn, 'close')
    conn.destroy()
    assert.equal(conn.destroyed, true)
    assert.equal(raw.destroyed, true)
    await closed
    const err = await new Promise<Error | null | undefined>((resolve) => {
      assert.equal(conn.publish({ topic: 't' }, resolve), false)
    })
    assert.ok(err instanceof MqttdError)
    assert.equal(err.code, 'MQTTD_ERR_CONNECTION_DESTROYED')
  })

  it('hands a packet sent right before destroy() to the raw stream first', async () => {
    const raw = new RecordingStream()
    const conn = Connection(raw)
    conn.disconnect()
    conn.destroy()
    assert.deepEqual([...raw.written()], [0xe0, 0])
  })

  it('mqtt-connection leaves destroyed false and reports success for writes after destroy()', async () => {
    const [, raw] = socketPair()
    const conn = LegacyConnection(raw)
    conn.destroy()
    const err = await new Promise((resolve) => conn.publish({ topic: 't' }, resolve))
    assert.equal(conn.destroyed, false)
    assert.equal(err, undefined)
  })
})

describe('fix 5: maximum incoming packet size', () => {
  it('rejects a packet announcing a larger size as soon as its length is read (before its body)', async () => {
    const raw = new RecordingStream()
    const conn = Connection(raw, { maxPacketSize: 1024 })
    const err = once(conn, 'error')
    let publishes = 0
    conn.on('publish', () => publishes++)
    await tick()
    // PUBLISH header announcing 1,048,576 bytes; no body follows
    raw.feed([0x30, 0x80, 0x80, 0x40])
    const [e] = (await err) as [MqttdError]
    assert.equal(e.code, 'MQTTD_ERR_PACKET_TOO_LARGE')
    assert.equal(e.reasonCode, 0x95)
    assert.match(e.message, /1048580 bytes exceeds the maximum packet size of 1024/)
    assert.equal(conn.destroyed, true)
    assert.equal(raw.destroyed, true)
    assert.equal(publishes, 0)
  })

  it('accepts a packet of exactly maxPacketSize bytes and rejects one byte more', async () => {
    const packet = (payloadSize: number) =>
      mqttPacket.generate({
        cmd: 'publish',
        topic: 't',
        payload: Buffer.alloc(payloadSize),
        qos: 0,
        dup: false,
        retain: false,
      })
    const exact = packet(100)
    const raw = new RecordingStream()
    const conn = Connection(raw, { maxPacketSize: exact.length })
    const sizes: number[] = []
    conn.on('publish', (p) => sizes.push(p.payload.length))
    const err = once(conn, 'error')
    await tick()
    raw.feed(Buffer.concat([exact, packet(101)]))
    const [e] = (await err) as [MqttdError]
    assert.equal(e.code, 'MQTTD_ERR_PACKET_TOO_LARGE')
    assert.deepEqual(sizes, [100])
  })
})

describe('fix 6: the first parse error closes the connection', () => {
  it('emits MQTTD_ERR_MALFORMED_PACKET (0x81), destroys the raw stream, emits no later packet', async () => {
    const raw = new RecordingStream()
    const conn = Connection(raw)
    const errors: MqttdError[] = []
    const packets: string[] = []
    conn.on('error', (err) => errors.push(err as MqttdError))
    conn.on('data', (p) => packets.push(p.cmd))
    const isClosed = closed(conn)
    await tick()
    // a CONNECT whose protocol name is cut short, then a valid PINGREQ in the same chunk
    raw.feed([0x10, 4, 0, 6, 77, 81, 0xc0, 0])
    raw.feed([0xc0, 0])
    await isClosed
    assert.equal(errors.length, 1)
    assert.equal(errors[0]!.code, 'MQTTD_ERR_MALFORMED_PACKET')
    assert.equal(errors[0]!.reasonCode, 0x81)
    assert.match(errors[0]!.message, /Cannot parse protocolId/)
    assert.equal(raw.destroyed, true)
    assert.deepEqual(packets, [])
  })

  it('lets an error listener send a DISCONNECT before the raw stream closes', async () => {
    const raw = new RecordingStream()
    const conn = Connection(raw, { protocolVersion: 5 })
    conn.on('error', (err) => conn.disconnect({ reasonCode: (err as MqttdError).reasonCode ?? 0x80 }))
    await tick()
    const isClosed = closed(conn)
    raw.feed([0x30, 1, 0]) // PUBLISH too short to hold a topic
    await isClosed
    assert.deepEqual([...raw.written()], [0xe0, 2, 0x81, 0])
  })
})

describe('mqtt-packet short v5 packets', () => {
  it('parses a v5 DISCONNECT `E0 00` followed by another packet in the same chunk [MQTT 5 §3.14.2.1]', async () => {
    const raw = new RecordingStream()
    const conn = Connection(raw, { protocolVersion: 5 })
    const packets: unknown[] = []
    conn.on('data', (p) =>
      packets.push({ cmd: p.cmd, reasonCode: (p as { reasonCode?: number }).reasonCode }),
    )
    await tick()
    raw.feed([0xe0, 0x00, 0xc0, 0x00, 0xe0, 0x01, 0x04])
    await tick()
    assert.deepEqual(packets, [
      { cmd: 'disconnect', reasonCode: 0 },
      { cmd: 'pingreq', reasonCode: undefined },
      { cmd: 'disconnect', reasonCode: 4 },
    ])
    conn.destroy()
  })

  it('parses a minimal v5 AUTH `F0 00` as reason code 0 [MQTT 5 §3.15.2.1]', async () => {
    const raw = new RecordingStream()
    const conn = Connection(raw, { protocolVersion: 5 })
    await tick()
    const got: string[] = []
    conn.on('auth', (auth) => got.push(`auth ${auth.reasonCode} ${auth.length}`))
    conn.on('pingreq', () => got.push('pingreq'))
    raw.feed([0xf0, 0x00, 0xc0, 0x00])
    await tick()
    assert.deepEqual(got, ['auth 0 0', 'pingreq'])
    conn.destroy()
  })

  it('mqtt-packet alone fails on both', () => {
    const errors: string[] = []
    for (const bytes of [
      [0xe0, 0x00, 0xc0, 0x00],
      [0xf0, 0x00],
    ]) {
      const parser = mqttPacket.parser({ protocolVersion: 5 })
      parser.on('error', (err: Error) => errors.push(err.message))
      parser.parse(Buffer.from(bytes))
    }
    assert.deepEqual(errors, ['Invalid disconnect reason code', 'Invalid auth reason code'])
  })
})
