// notData mode (the Connection as an object-mode Duplex), the static
// parseStream/generateStream, and the stream events (end, finish, close).
import assert from 'node:assert/strict'
import { once } from 'node:events'
import { Readable, Writable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { describe, it } from 'node:test'
import mqttPacket from 'mqtt-packet'
import { Connection } from '../../src/connection/connection.ts'
import type { MqttdError } from '../../src/errors.ts'
import { closed, RecordingStream, readBytes, socketPair, tick } from './helpers.ts'

const pingreq = Buffer.from([0xc0, 0])
const publish = (topic: string) =>
  mqttPacket.generate({ cmd: 'publish', topic, payload: Buffer.from('x'), qos: 0, dup: false, retain: false })

describe('notData mode', () => {
  it('emits no packet events; the packets come out of the readable side', async () => {
    const raw = new RecordingStream()
    const conn = Connection(raw, { notData: true })
    let events = 0
    conn.on('publish', () => events++)
    conn.on('pingreq', () => events++)
    raw.feed(Buffer.concat([publish('a'), pingreq, publish('b')]))
    raw.push(null)
    const got: string[] = []
    await pipeline(
      conn,
      new Writable({
        objectMode: true,
        write(packet: { cmd: string; topic: string | null }, _enc, cb) {
          got.push(packet.topic === null ? packet.cmd : `${packet.cmd} ${packet.topic}`)
          cb()
        },
      }),
    )
    assert.deepEqual(got, ['publish a', 'pingreq', 'publish b'])
    assert.equal(events, 0)
  })

  it('accepts packet objects piped into its writable side and generates them', async () => {
    const [peer, raw] = socketPair()
    const conn = Connection(raw, { notData: true })
    const source = Readable.from([
      { cmd: 'publish', topic: 'a', payload: Buffer.from('x'), qos: 0 },
      { cmd: 'pingresp' },
    ])
    const bytes = readBytes(peer, publish('a').length + 2)
    source.pipe(conn)
    assert.deepEqual(await bytes, Buffer.concat([publish('a'), Buffer.from([0xd0, 0])]))
    conn.destroy()
  })

  it('pauses the raw stream while nobody reads the packets (backpressure)', async () => {
    const raw = new RecordingStream()
    const conn = Connection(raw, { notData: true })
    await tick()
    for (let i = 0; i < 100; i++) raw.feed(pingreq)
    await tick()
    assert.equal(raw.isPaused(), true)
    let n = 0
    for await (const _ of conn) if (++n === 100) break
    assert.equal(n, 100)
  })

  it('destroys the connection with a coded error for an invalid packet written to it', async () => {
    const raw = new RecordingStream()
    const conn = Connection(raw, { notData: true })
    const [err] = await Promise.all([
      once(conn, 'error').then(([e]) => e as MqttdError),
      new Promise((resolve) => conn.write({ cmd: 'publish', topic: 42 }, resolve)),
    ])
    assert.equal(err.code, 'MQTTD_ERR_INVALID_PACKET')
    assert.equal(conn.destroyed, true)
  })
})

describe('stream events', () => {
  it("emits 'end' when the peer ends, 'finish' after end(), and 'close' once", async () => {
    const [peer, raw] = socketPair()
    const conn = Connection(raw)
    const events: string[] = []
    for (const name of ['end', 'finish', 'close'] as const) conn.on(name, () => events.push(name))
    peer.end()
    await once(conn, 'end')
    conn.end()
    await closed(conn)
    assert.deepEqual(events, ['end', 'finish', 'close'])
  })

  it('ends the raw stream when the peer ends; a later send fails its callback without an error event', async () => {
    const [peer, raw] = socketPair()
    const conn = Connection(raw)
    const errors: Error[] = []
    conn.on('error', (err) => errors.push(err))
    conn.pingresp() // batched before the end arrives: still delivered
    peer.end()
    await once(conn, 'end')
    assert.equal(raw.writableEnded, true)
    const err = await new Promise<Error | null | undefined>((resolve) => conn.pingresp(undefined, resolve))
    assert.equal((err as MqttdError).code, 'MQTTD_ERR_CONNECTION_DESTROYED')
    assert.deepEqual(errors, [])
    assert.deepEqual([...(await readBytes(peer, 2))], [0xd0, 0])
    conn.destroy()
  })

  it("emits 'close' when the raw stream closes", async () => {
    const [, raw] = socketPair()
    const conn = Connection(raw)
    raw.destroy()
    await closed(conn)
    assert.equal(conn.destroyed, true)
  })

  it("forwards a raw stream error as 'error', then closes", async () => {
    const raw = new RecordingStream()
    const conn = Connection(raw)
    const boom = new Error('boom')
    const got = once(conn, 'error')
    const isClosed = closed(conn)
    raw.destroy(boom)
    assert.equal((await got)[0], boom)
    await isClosed
  })
})

describe('Connection.parseStream', () => {
  it('is an object-mode Transform: Buffers in, packets out', async () => {
    const parse = Connection.parseStream()
    const got: string[] = []
    parse.on('data', (p: { cmd: string; topic: string | null }) => got.push(p.topic ?? p.cmd))
    const wire = Buffer.concat([publish('a'), pingreq, publish('b')])
    parse.write(wire.subarray(0, 3))
    parse.end(wire.subarray(3))
    await once(parse, 'end')
    assert.deepEqual(got, ['a', 'pingreq', 'b'])
  })

  it('switches version in place with setOptions (v5 properties parsed)', async () => {
    const parse = Connection.parseStream()
    parse.setOptions({ protocolVersion: 5 })
    const v5 = mqttPacket.generate(
      { cmd: 'puback', messageId: 1, reasonCode: 16, properties: { reasonString: 'r' } },
      { protocolVersion: 5 },
    )
    parse.end(v5)
    const [packet] = await once(parse, 'data')
    assert.equal(packet.reasonCode, 16)
    assert.deepEqual({ ...packet.properties }, { reasonString: 'r' })
  })

  it('fails with MQTTD_ERR_MALFORMED_PACKET on garbage', async () => {
    const parse = Connection.parseStream()
    parse.write(Buffer.from([0x10, 4, 0, 6, 77, 81]))
    const [err] = await once(parse, 'error')
    assert.equal(err.code, 'MQTTD_ERR_MALFORMED_PACKET')
  })

  it('enforces maxPacketSize', async () => {
    const parse = Connection.parseStream({ maxPacketSize: 10 })
    parse.write(Buffer.from([0x30, 20]))
    const [err] = await once(parse, 'error')
    assert.equal(err.code, 'MQTTD_ERR_PACKET_TOO_LARGE')
  })
})

describe('Connection.generateStream', () => {
  it('is an object-mode Transform: packets in, Buffers out', async () => {
    const gen = Connection.generateStream()
    const out: Buffer[] = []
    gen.on('data', (b: Buffer) => out.push(b))
    gen.write({ cmd: 'publish', topic: 'a', payload: Buffer.from('x'), qos: 0 })
    gen.end({ cmd: 'pingreq' })
    await once(gen, 'end')
    assert.deepEqual(Buffer.concat(out), Buffer.concat([publish('a'), pingreq]))
  })

  it('generates v5 when configured', async () => {
    const gen = Connection.generateStream({ protocolVersion: 5 })
    gen.end({ cmd: 'disconnect', reasonCode: 0x8e })
    const [buf] = await once(gen, 'data')
    assert.deepEqual([...buf], [0xe0, 2, 0x8e, 0])
  })

  it('fails with MQTTD_ERR_INVALID_PACKET instead of stalling (mqtt-connection stalls)', async () => {
    const gen = Connection.generateStream({ protocolVersion: 5 })
    gen.write({ cmd: 'puback', messageId: 1, reasonCode: 0, properties: { userProperties: {} } })
    const [err] = await once(gen, 'error')
    assert.equal(err.code, 'MQTTD_ERR_INVALID_PACKET')
  })
})
