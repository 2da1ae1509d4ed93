/**
 * The floor the connection benchmark compares against: a bare Node `net.Server`
 * holding sockets with a `data` listener, answering the first chunk of each with
 * a 3.1.1 CONNACK (so the same load generator can drive it) and PINGREQ with
 * PINGRESP. Nothing else: no parser, no per-connection object.
 *
 *   node load-tests/connections/bare-server.ts <port>
 */
import net from 'node:net'

const CONNACK = Buffer.from([0x20, 0x02, 0x00, 0x00])
const PINGRESP = Buffer.from([0xd0, 0x00])

const server = net.createServer({ noDelay: true }, (socket) => {
  let first = true
  socket.on('data', (chunk: Buffer) => {
    if (first) {
      first = false
      socket.write(CONNACK)
    } else if (chunk[0] === 0xc0) socket.write(PINGRESP)
  })
  socket.on('error', () => socket.destroy())
})
server.listen(Number(process.argv[2]), '127.0.0.1')
process.on('SIGTERM', () => process.exit(0))
