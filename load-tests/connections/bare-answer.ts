/**
 * What the floors (bare-server.ts, bare-handoff-server.ts) do with a connection: answer its first
 * chunk with a 3.1.1 CONNACK (so the load generator can drive them) and PINGREQ with PINGRESP.
 * Nothing else: no parser, no per-connection object beyond the socket's listeners.
 */
import type { Socket } from 'node:net'

const CONNACK = Buffer.from([0x20, 0x02, 0x00, 0x00])
const PINGRESP = Buffer.from([0xd0, 0x00])

export function answerLikeABroker(socket: Socket): void {
  let first = true
  socket.on('data', (chunk: Buffer) => {
    if (first) {
      first = false
      socket.write(CONNACK)
    } else if (chunk[0] === 0xc0) socket.write(PINGRESP)
  })
  socket.on('error', () => socket.destroy())
}
