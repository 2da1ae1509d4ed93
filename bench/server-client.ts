/**
 * Load client for the server benchmarks (bench/server-*.ts), run as a child
 * process so its CPU and memory are not the server's. Speaks just enough
 * MQTT: a v3.1.1 CONNECT, then waits for CONNACK.
 *
 *   node bench/server-client.ts churn <port> <count> <concurrency>
 *     opens `count` connections, `concurrency` at a time: CONNECT, CONNACK, close.
 *     prints { connections, seconds, perSecond, failures }
 *   node bench/server-client.ts hold <port> <count> <addresses> [keepalive=0]
 *     opens `count` idle connections spread over 127.0.0.1..127.0.0.<addresses>
 *     (CONNECT keepalive in seconds: the load generator's idle clients use 120),
 *     prints "ready <n>" once all got CONNACK, closes all on stdin end.
 */
import { connect, type Socket } from 'node:net'

const [mode, portText, countText, extraText, keepaliveText] = process.argv.slice(2)
const keepalive = Number(keepaliveText ?? 0)
const port = Number(portText)
const count = Number(countText)

function connectPacket(id: number): Buffer {
  const clientId = Buffer.from(`b${id}`)
  const body = Buffer.concat([
    Buffer.from([0x00, 0x04, 0x4d, 0x51, 0x54, 0x54, 0x04, 0x02, keepalive >> 8, keepalive & 0xff]), // "MQTT" 4, clean, keepalive
    Buffer.from([clientId.length >> 8, clientId.length & 0xff]),
    clientId,
  ])
  return Buffer.concat([Buffer.from([0x10, body.length]), body])
}

function open(id: number, localAddress?: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ port, host: '127.0.0.1', ...(localAddress ? { localAddress } : {}) })
    const timer = setTimeout(() => {
      socket.destroy()
      reject(new Error('timeout'))
    }, 10_000)
    socket.once('error', (err) => {
      clearTimeout(timer)
      reject(err)
    })
    socket.once('connect', () => socket.write(connectPacket(id)))
    socket.once('data', (chunk: Buffer) => {
      clearTimeout(timer)
      if (chunk[0] === 0x20 && chunk[3] === 0) resolve(socket)
      else {
        socket.destroy()
        reject(new Error('refused'))
      }
    })
  })
}

if (mode === 'churn') {
  const concurrency = Number(extraText ?? 100)
  let next = 0
  let failures = 0
  const started = performance.now()
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < count) {
        const id = next++
        try {
          const socket = await open(id)
          socket.destroy()
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
} else if (mode === 'hold') {
  const addresses = Number(extraText ?? 4)
  const sockets: Socket[] = []
  let failures = 0
  const batch = 500
  for (let i = 0; i < count; i += batch) {
    const opened = await Promise.allSettled(
      Array.from({ length: Math.min(batch, count - i) }, (_, j) =>
        open(i + j, `127.0.0.${1 + ((i + j) % addresses)}`),
      ),
    )
    for (const r of opened) {
      if (r.status === 'fulfilled') sockets.push(r.value)
      else failures++
    }
  }
  for (const s of sockets) s.on('error', () => {})
  process.stdout.write(`ready ${sockets.length} ${failures}\n`)
  process.stdin.resume()
  process.stdin.on('end', () => {
    for (const s of sockets) s.destroy()
    process.exit(0)
  })
} else {
  process.stderr.write('usage: server-client.ts churn|hold <port> <count> <concurrency|addresses>\n')
  process.exit(2)
}
