// Cases of mqtt-connection 4.1.0's own test suite (test/connection*.js) not already
// in the packet tables, ported to Connection: large and split publishes, reserved
// packet types, null options and the next-tick start.
import assert from 'node:assert/strict'
import { once } from 'node:events'
import { describe, it } from 'node:test'
import { Connection } from '../../src/connection/connection.ts'
import { readBytes, socketPair } from './helpers.ts'

function publishFixture(header: number[], payloadSize: number): { wire: Buffer; payload: Buffer } {
  const payload = Buffer.alloc(payloadSize, 0xab)
  // biome-ignore format: wire annotations
  const head = Buffer.from([
    ...header, // Header
    0, 4, // Topic length
    116, 101, 115, 116, // Topic (test)
  ])
  return { wire: Buffer.concat([head, payload]), payload }
}

describe('ported from mqtt-connection: parsing', () => {
  it('should start piping in the next tick', async () => {
    const [, raw] = socketPair()
    const conn = Connection(raw)
    assert.equal(raw.readableFlowing, null)
    await new Promise((resolve) => process.nextTick(resolve))
    assert.equal(raw.readableFlowing, true)
    conn.destroy()
  })

  for (const [name, header, size] of [
    ['2KB', [48, 134, 16], 2048],
    ['2MB', [48, 134, 128, 128, 1], 2 * 1024 * 1024],
  ] as const) {
    it(`should fire a publish event with ${name} payload`, async () => {
      const [peer, raw] = socketPair()
      const conn = Connection(raw)
      const { wire, payload } = publishFixture([...header], size)
      peer.write(wire)
      const [packet] = await once(conn, 'publish')
      assert.equal(packet.length, 6 + size)
      assert.equal(packet.topic, 'test')
      assert.ok(packet.payload.equals(payload))
      conn.destroy()
    })
  }

  it('should parse a splitted publish', async () => {
    const [peer, raw] = socketPair()
    const conn = Connection(raw)
    peer.write(Buffer.from([48, 10, 0, 4, 116, 101, 115, 116]))
    peer.write(Buffer.from([116, 101, 115, 116]))
    const [packet] = await once(conn, 'publish')
    assert.deepEqual(
      { ...packet },
      {
        cmd: 'publish',
        retain: false,
        qos: 0,
        dup: false,
        length: 10,
        topic: 'test',
        payload: Buffer.from('test'),
      },
    )
    conn.destroy()
  })

  for (const [name, bytes] of [
    ['reserved (15) in 3.1.1', [240, 0]],
    ['reserved (0)', [0, 0]],
  ] as const) {
    it(`should emit an error: ${name}`, async () => {
      const [peer, raw] = socketPair()
      const conn = Connection(raw)
      peer.write(Buffer.from(bytes))
      const [err] = await once(conn, 'error')
      assert.equal(err.code, 'MQTTD_ERR_MALFORMED_PACKET')
    })
  }
})

describe('ported from mqtt-connection: transmission', () => {
  for (const [name, header, size] of [
    ['2KB', [48, 134, 16], 2048],
    ['2MB', [48, 134, 128, 128, 1], 2 * 1024 * 1024],
  ] as const) {
    it(`should send a publish packet of ${name}`, async () => {
      const [peer, raw] = socketPair()
      const conn = Connection(raw)
      const { wire, payload } = publishFixture([...header], size)
      const bytes = readBytes(peer, wire.length)
      conn.publish({ topic: 'test', payload })
      conn.end()
      assert.ok((await bytes).equals(wire))
      conn.destroy()
    })
  }

  it('should send a null disconnect packet', async () => {
    const [peer, raw] = socketPair()
    const conn = Connection(raw)
    const bytes = readBytes(peer, 2)
    conn.disconnect()
    assert.deepEqual([...(await bytes)], [224, 0])
    conn.destroy()
  })
})
