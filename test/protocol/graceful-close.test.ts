// The server's last word reaches a client that keeps sending: after a refusing CONNACK or a
// DISCONNECT with a reason code the server ends its side and discards what still arrives
// (bounded in time and in the number of such sockets) instead of destroying the socket,
// which would answer the client's next bytes with a reset that can wipe the unread packet.
import assert from 'node:assert/strict'
import { connect, type Socket } from 'node:net'
import { test } from 'node:test'
import mqttPacket, { type Packet } from 'mqtt-packet'
import { connectPacket } from '../helpers/raw-client.ts'
import { startTestServer } from '../helpers/server.ts'

const fixture = (name: string) => new URL(`../fixtures/handlers/${name}`, import.meta.url).pathname
const rounds = 30

/**
 * Opens a socket, writes `first`, then keeps writing `filler` without reading for a while
 * (the event loop blocked, as in a busy client), then reads: resolves with the packets read
 * before the socket closed, and the socket error if any.
 */
async function floodingClient(
  port: number,
  version: 4 | 5,
  first: Buffer,
  filler: Buffer,
): Promise<{ packets: Packet[]; error: string | undefined }> {
  const socket: Socket = connect({ port, host: '127.0.0.1' })
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve)
    socket.once('error', reject)
  })
  const parser = mqttPacket.parser({ protocolVersion: version })
  const packets: Packet[] = []
  parser.on('packet', (p: Packet) => packets.push(p))
  let error: string | undefined
  socket.on('data', (b: Buffer) => parser.parse(b))
  socket.on('error', (err: NodeJS.ErrnoException) => {
    error = err.code ?? err.message
  })
  socket.write(first)
  // keep sending for a while without giving the event loop a turn: the server answers and
  // closes meanwhile, and our bytes keep arriving at its socket
  const until = Date.now() + 60
  while (Date.now() < until) socket.write(filler)
  const stop = setInterval(() => socket.write(filler), 1)
  await new Promise<void>((resolve) => socket.once('close', () => resolve()))
  clearInterval(stop)
  return { packets, error }
}

function publishBytes(version: 4 | 5, count: number, qos: 0 | 2 = 0): Buffer {
  const packets: Buffer[] = []
  for (let i = 1; i <= count; i++) {
    packets.push(
      mqttPacket.generate(
        {
          cmd: 'publish',
          topic: 'flood',
          payload: Buffer.alloc(512),
          qos,
          messageId: i,
          retain: false,
          dup: false,
        },
        { protocolVersion: version },
      ),
    )
  }
  return Buffer.concat(packets)
}

for (const version of [4, 5] as const) {
  test(`a client that keeps sending after a refusing CONNACK reads it every time (MQTT ${version === 5 ? '5.0' : '3.1.1'}, ${rounds} rounds)`, async (t) => {
    const server = await startTestServer(t, { workers: 1, handlers: [fixture('faults.ts')] })
    const connect = mqttPacket.generate(
      connectPacket(version, { username: 'bad-password', password: 'x' }) as unknown as Packet,
      { protocolVersion: version },
    )
    const filler = publishBytes(version, 32)
    for (let round = 0; round < rounds; round++) {
      const { packets, error } = await floodingClient(server.port(), version, connect, filler)
      const connack = packets.find((p) => p.cmd === 'connack') as Record<string, unknown> | undefined
      assert.ok(connack, `round ${round}: no CONNACK (socket error ${error})`)
      // 0x86 bad user name or password; 3.1.1: return code 4
      if (version === 5) assert.equal(connack.reasonCode, 0x86)
      else assert.equal(connack.returnCode, 4)
    }
  })
}

test(`a client that keeps sending after DISCONNECT 0x93 reads it every time (${rounds} rounds)`, async (t) => {
  const server = await startTestServer(t, { workers: 1, config: { limits: { receiveMaximum: 2 } } })
  const connect = mqttPacket.generate(connectPacket(5) as unknown as Packet, { protocolVersion: 5 })
  // three unacknowledged QoS 2 PUBLISH packets in one go: the third exceeds Receive Maximum 2
  const first = Buffer.concat([connect, publishBytes(5, 3, 2)])
  const filler = publishBytes(5, 32)
  for (let round = 0; round < rounds; round++) {
    const { packets, error } = await floodingClient(server.port(), 5, first, filler)
    const disconnect = packets.find((p) => p.cmd === 'disconnect') as Record<string, unknown> | undefined
    assert.ok(disconnect, `round ${round}: no DISCONNECT (socket error ${error})`)
    assert.equal(disconnect.reasonCode, 0x93)
  }
})
