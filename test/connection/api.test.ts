import assert from 'node:assert/strict'
import { once } from 'node:events'
import { describe, it } from 'node:test'
import { Connection } from '../../src/connection/connection.ts'
import DefaultConnection, { Connection as NamedConnection } from '../../src/connection/index.ts'
import { next, readBytes, socketPair } from './helpers.ts'

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
})
