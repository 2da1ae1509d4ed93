import assert from 'node:assert/strict'
import { once } from 'node:events'
import { describe, it } from 'node:test'
import { Connection } from '../../src/connection/connection.ts'
import DefaultConnection, { Connection as NamedConnection } from '../../src/connection/index.ts'
import { next, RecordingStream, readBytes, socketPair, tick } from './helpers.ts'

const CONNECT_V4 = [
  16,
  16, // Header
  0,
  4, // Protocol id length
  77,
  81,
  84,
  84, // Protocol id 'MQTT'
  4, // Protocol version
  2, // Connect flags: clean
  0,
  30, // Keepalive
  0,
  4, // Client id length
  116,
  101,
  115,
  116, // Client id 'test'
]

describe('Connection API', () => {
  it('is callable with new and without new; both are instances', () => {
    const [a, b] = socketPair()
    const withNew = new Connection(a)
    const withoutNew = Connection(b)
    assert.ok(withNew instanceof Connection)
    assert.ok(withoutNew instanceof Connection)
    assert.equal(typeof withoutNew.publish, 'function')
    withNew.destroy()
    withoutNew.destroy()
  })

  it('is the package export mqttd/connection (default and named)', async () => {
    const mod = await import('mqttd/connection')
    assert.equal(mod.default, Connection)
    assert.equal(mod.Connection, Connection)
  })

  it('index exports the same Connection as default and named export', () => {
    assert.equal(DefaultConnection, Connection)
    assert.equal(NamedConnection, Connection)
    assert.equal(typeof Connection.parseStream, 'function')
    assert.equal(typeof Connection.generateStream, 'function')
  })

  for (const form of ['with new', 'without new'] as const) {
    it(`keeps the callback ${form}: it runs on the first packet, before its event`, async () => {
      const [peer, raw] = socketPair()
      const order: string[] = []
      const cb = () => order.push('cb')
      const conn = form === 'with new' ? new Connection(raw, {}, cb) : Connection(raw, {}, cb)
      conn.on('connect', () => order.push('connect'))
      peer.write(Buffer.from(CONNECT_V4))
      await once(conn, 'connect')
      assert.deepEqual(order, ['cb', 'connect'])
      conn.destroy()
    })
  }

  it('accepts the callback as second argument (no options)', async () => {
    const [peer, raw] = socketPair()
    let called = 0
    const conn = Connection(raw, () => called++)
    peer.write(Buffer.from(CONNECT_V4))
    await once(conn, 'connect')
    assert.equal(called, 1)
    conn.destroy()
  })

  it('supports subclassing', () => {
    const [, raw] = socketPair()
    class MyConnection extends (Connection as unknown as new (s: typeof raw) => object) {
      hello() {
        return 'hi'
      }
    }
    const conn = new MyConnection(raw) as MyConnection & InstanceType<typeof Connection>
    assert.equal(conn.hello(), 'hi')
    assert.ok(conn instanceof Connection)
    conn.destroy()
  })

  it('starts reading on the next tick, so listeners attached after construction miss nothing', async () => {
    const [peer, raw] = socketPair()
    peer.write(Buffer.from(CONNECT_V4))
    await new Promise((resolve) => setImmediate(resolve)) // the bytes are waiting in raw
    const conn = Connection(raw)
    assert.equal(raw.listenerCount('data'), 0)
    const got = next<{ clientId: string }>(conn, 'connect')
    await new Promise((resolve) => process.nextTick(resolve))
    assert.equal(raw.listenerCount('data'), 1)
    assert.equal((await got).clientId, 'test')
    conn.destroy()
  })

  it('does not mutate the options object passed to a send method', async () => {
    const [peer, raw] = socketPair()
    const conn = Connection(raw)
    const opts = Object.freeze({ topic: 'a', payload: Buffer.from('x'), qos: 0 as const })
    const snapshot = { ...opts }
    assert.equal(conn.publish(opts), true)
    assert.deepEqual({ ...opts }, snapshot)
    assert.equal('cmd' in opts, false)
    const bytes = await readBytes(peer, 6)
    assert.deepEqual([...bytes], [48, 4, 0, 1, 97, 120])
    conn.destroy()
  })

  it('calls the send callback once the bytes are handed to the stream', async () => {
    const [peer, raw] = socketPair()
    const conn = Connection(raw)
    const err = await new Promise((resolve) => conn.pingreq(undefined, resolve))
    assert.equal(err, null)
    assert.deepEqual([...(await readBytes(peer, 2))], [192, 0])
    assert.equal(conn.bytesSent, 2)
    conn.destroy()
  })

  it('counts raw bytes received', async () => {
    const [peer, raw] = socketPair()
    const conn = Connection(raw)
    peer.write(Buffer.from(CONNECT_V4))
    await once(conn, 'connect')
    assert.equal(conn.bytesReceived, CONNECT_V4.length)
    conn.destroy()
  })

  it('setOptions({ protocolVersion }) switches parsing and generating in place', async () => {
    const raw = new RecordingStream()
    const conn = Connection(raw)
    assert.equal(conn.protocolVersion, 4)
    conn.setOptions({ protocolVersion: 5 })
    assert.equal(conn.protocolVersion, 5)
    conn.disconnect({ reasonCode: 0x8e })
    const got = next<{ reasonCode: number }>(conn, 'puback')
    await tick()
    raw.feed([0x40, 3, 0, 1, 0x10]) // v5 PUBACK with reason code 0x10
    assert.equal((await got).reasonCode, 0x10)
    assert.deepEqual([...raw.written()], [0xe0, 2, 0x8e, 0])
    conn.destroy()
  })

  it('a client: the version of the CONNECT it sends is used to parse the CONNACK', async () => {
    const raw = new RecordingStream()
    const conn = Connection(raw)
    conn.connect({ clientId: 'c', protocolVersion: 5 })
    const got = next<{ reasonCode: number; properties: object }>(conn, 'connack')
    await tick()
    // biome-ignore format: wire annotations
    raw.feed([
      0x20, 5, // Header
      0, // Connack flags
      0, // Reason code
      2, // Properties length
      0x24, 1, // Maximum QoS 1
    ])
    const connack = await got
    assert.equal(connack.reasonCode, 0)
    assert.deepEqual({ ...connack.properties }, { maximumQoS: 1 })
    assert.equal(conn.protocolVersion, 5)
    conn.destroy()
  })

  it('a client: without a version, a CONNACK is parsed as 3.1.1 (mqtt-connection default)', async () => {
    const raw = new RecordingStream()
    const conn = Connection(raw)
    const got = next<{ returnCode: number }>(conn, 'connack')
    await tick()
    raw.feed([0x20, 2, 0, 5])
    assert.equal((await got).returnCode, 5)
    assert.equal(conn.protocolVersion, 4)
    conn.destroy()
  })
})
