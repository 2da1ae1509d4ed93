/**
 * Accept/hand-off rate of the pooled server: connections per second, each a
 * full TCP connect + MQTT CONNECT/CONNACK + close, with the load client in
 * a separate process on this machine. Bounded: `count` connections.
 * CPU is the server process's (main and worker threads) over the measured run.
 *
 *   node bench/server-accept.ts [workers=2] [count=20000] [concurrency=100]
 *
 * workers=0 is the baseline: one thread, no hand-off, the same Connection
 * answering CONNACK (what the pool's accept path costs on top of it).
 */
import { execFile } from 'node:child_process'
import { type AddressInfo, createServer } from 'node:net'
import { promisify } from 'node:util'
import { Connection } from '../src/connection/connection.ts'
import { startServer } from '../src/main/server.ts'

const workers = Number(process.argv[2] ?? 2)
const count = Number(process.argv[3] ?? 20_000)
const concurrency = Number(process.argv[4] ?? 100)

async function baseline(): Promise<{ port: number; close(): Promise<void> }> {
  const server = createServer((socket) => {
    socket.setNoDelay(true)
    socket.on('error', () => {})
    const connection = new Connection(socket)
    connection.on('connect', () => connection.connack({ returnCode: 0, sessionPresent: false }))
    connection.on('error', () => connection.destroy())
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    port: (server.address() as AddressInfo).port,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  }
}

const server =
  workers === 0
    ? await baseline()
    : await startServer({
        workers,
        listeners: [{ type: 'tcp', host: '127.0.0.1', port: 0 }],
        broker: false,
        admin: { enabled: false },
        log: { level: 'warn' },
      }).then((s) => ({ port: s.listeners[0]!.port, close: () => s.close() }))
const port = server.port
const client = new URL('./server-client.ts', import.meta.url).pathname
// the client runs asynchronously: this thread is the server's main thread and must keep accepting
const run = (n: number) =>
  promisify(execFile)(process.execPath, [client, 'churn', String(port), String(n), String(concurrency)])
await run(1000) // warm-up
const cpuBefore = process.cpuUsage()
const { stdout: out } = await run(count)
const cpu = process.cpuUsage(cpuBefore)
const result = JSON.parse(out) as {
  connections: number
  seconds: number
  perSecond: number
  failures: number
}
await server.close()
process.stdout.write(
  `${JSON.stringify({
    workers,
    ...result,
    // main + worker threads of the server process, per connection
    serverCpuMicrosPerConnection: Math.round((cpu.user + cpu.system) / count),
  })}\n`,
)
