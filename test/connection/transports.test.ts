// Connection over real transports: a TCP socket pair and a WebSocket stream (ws),
// client and server both built on Connection.
import assert from 'node:assert/strict'
import { once } from 'node:events'
import net from 'node:net'
import type { Duplex } from 'node:stream'
import { describe, it } from 'node:test'
import { createWebSocketStream, WebSocket, WebSocketServer } from 'ws'
import { Connection } from '../../src/connection/connection.ts'
import type { ProtocolVersion } from '../../src/connection/types.ts'
import { closed } from './helpers.ts'

/** A minimal server side: CONNACK, PUBACK for QoS 1, echo every PUBLISH back. */
function serve(raw: Duplex): void {
  const conn = Connection(raw)
  conn.on('connect', () => conn.connack({ returnCode: 0, reasonCode: 0 }))
  conn.on('publish', (p) => {
    if (p.qos === 1) conn.puback({ messageId: p.messageId, reasonCode: 0 })
    conn.publish({ topic: p.topic, payload: p.payload, qos: 0 })
  })
  conn.on('disconnect', () => conn.destroy())
  conn.on('error', () => conn.destroy())
}

/** Client side of a session: CONNECT, a QoS 1 PUBLISH (small or big), its echo, DISCONNECT. */
async function session(raw: Duplex, version: ProtocolVersion, payload: Buffer): Promise<void> {
  const client = Connection(raw, { protocolVersion: version })
  client.connect({ clientId: `c${version}`, protocolVersion: version, keepalive: 10 })
  const [connack] = await once(client, 'connack')
  assert.equal(version === 5 ? connack.reasonCode : connack.returnCode, 0)
  assert.equal(client.protocolVersion, version)
  const echo = once(client, 'publish')
  const ack = once(client, 'puback')
  client.publish({ topic: 'a/b', payload, qos: 1, messageId: 42 })
  assert.equal((await ack)[0].messageId, 42)
  const [p] = await echo
  assert.equal(p.topic, 'a/b')
  assert.ok(Buffer.from(p.payload).equals(payload))
  const isClosed = closed(client)
  client.disconnect()
  await isClosed
  assert.ok(client.bytesSent > payload.length)
  assert.ok(client.bytesReceived > payload.length)
}

const payloads = { small: Buffer.from('hello'), '2 MB': Buffer.alloc(2 * 1024 * 1024, 7) }

describe('Connection over TCP', () => {
  for (const version of [4, 5] as const) {
    for (const [size, payload] of Object.entries(payloads)) {
      it(`v${version}: connect, publish QoS 1 (${size}), echo, disconnect`, async () => {
        const server = net.createServer(serve)
        server.listen(0, '127.0.0.1')
        await once(server, 'listening')
        const { port } = server.address() as net.AddressInfo
        try {
          const socket = net.connect(port, '127.0.0.1')
          await once(socket, 'connect')
          await session(socket, version, payload)
        } finally {
          server.close()
        }
      })
    }
  }

  it('reports backpressure from a peer that does not read, and drains when it does', async () => {
    const accepted = Promise.withResolvers<net.Socket>()
    const server = net.createServer((s) => accepted.resolve(s))
    server.listen(0, '127.0.0.1')
    await once(server, 'listening')
    const { port } = server.address() as net.AddressInfo
    const peer = net.connect(port, '127.0.0.1')
    peer.pause()
    try {
      const conn = Connection(await accepted.promise)
      const payload = Buffer.alloc(64 * 1024)
      let sent = 0
      while (conn.publish({ topic: 't', payload })) {
        sent++
        assert.ok(sent < 10_000, 'never reported backpressure')
      }
      const drained = once(conn, 'drain')
      peer.resume()
      await drained
      conn.destroy()
    } finally {
      peer.destroy()
      server.close()
    }
  })
})

describe('Connection over WebSocket (ws + createWebSocketStream)', () => {
  for (const version of [4, 5] as const) {
    for (const [size, payload] of Object.entries(payloads)) {
      it(`v${version}: connect, publish QoS 1 (${size}), echo, disconnect`, async () => {
        const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 })
        wss.on('connection', (ws) => serve(createWebSocketStream(ws)))
        await once(wss, 'listening')
        const { port } = wss.address() as net.AddressInfo
        try {
          const ws = new WebSocket(`ws://127.0.0.1:${port}`, 'mqtt')
          await once(ws, 'open')
          await session(createWebSocketStream(ws), version, payload)
        } finally {
          for (const client of wss.clients) client.terminate()
          wss.close()
        }
      })
    }
  }
})
