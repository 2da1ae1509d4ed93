/**
 * Load client for bench/proxy-protocol.bench.ts, run as a child process so
 * its CPU is not the server's: opens `count` connections, `concurrency` at a
 * time, each CONNECT → CONNACK → close, optionally after a PROXY header
 * (v1 or v2) naming a client address that differs per connection.
 *
 *   node bench/proxy-protocol-client.ts <port> <count> <concurrency> none|v1|v2
 *   prints { connections, seconds, perSecond, failures }
 */
import { connect } from 'node:net'

const [portText, countText, concurrencyText, headerKind] = process.argv.slice(2)
const port = Number(portText)
const count = Number(countText)
const concurrency = Number(concurrencyText)

const connectPacket = Buffer.from([
  0x10,
  0x0e, // CONNECT, remaining length 14
  0x00,
  0x04,
  0x4d,
  0x51,
  0x54,
  0x54,
  0x04,
  0x02,
  0x00,
  0x00, // "MQTT" 4, clean session, keepalive 0
  0x00,
  0x02,
  0x62,
  0x62, // client id "bb"
])

/** The PROXY header for connection `id`: client 10.x.y.z, a different address each time. */
function header(id: number): Buffer {
  const a = [10, (id >> 16) & 0xff, (id >> 8) & 0xff, id & 0xff]
  if (headerKind === 'v1') return Buffer.from(`PROXY TCP4 ${a.join('.')} 192.0.2.1 40000 1883\r\n`, 'latin1')
  if (headerKind === 'v2') {
    const signature = [0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]
    return Buffer.from([...signature, 0x21, 0x11, 0x00, 0x0c, ...a, 192, 0, 2, 1, 0x9c, 0x40, 0x07, 0x5b])
  }
  return Buffer.alloc(0)
}

function once(id: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = connect({ port, host: '127.0.0.1' })
    const timer = setTimeout(() => {
      socket.destroy()
      reject(new Error('timeout'))
    }, 10_000)
    socket.once('error', (err) => {
      clearTimeout(timer)
      reject(err)
    })
    // the header and the CONNECT in one write, as a proxy forwarding a client's first bytes does
    socket.once('connect', () => socket.write(Buffer.concat([header(id), connectPacket])))
    socket.once('data', (chunk: Buffer) => {
      clearTimeout(timer)
      socket.destroy()
      if (chunk[0] === 0x20 && chunk[3] === 0) resolve()
      else reject(new Error('refused'))
    })
  })
}

let next = 0
let failures = 0
const started = performance.now()
await Promise.all(
  Array.from({ length: concurrency }, async () => {
    while (next < count) {
      try {
        await once(next++)
      } catch {
        failures++
      }
    }
  }),
)
const seconds = (performance.now() - started) / 1000
process.stdout.write(
  `${JSON.stringify({ connections: count, seconds, perSecond: Math.round(count / seconds), failures })}\n`,
)
