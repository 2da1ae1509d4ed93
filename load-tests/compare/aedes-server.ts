/**
 * A bench-only aedes broker on a loopback port: TCP, plus WebSocket on a
 * second port when `--ws-port` is given. Prints `ready <tcpPort> <wsPort>` on
 * stdout once listening and exits on SIGTERM/SIGINT.
 *
 * usage: node load-tests/compare/aedes-server.ts --port 0 [--ws-port 0] [--host 127.0.0.1]
 */
import { createServer as createHttpServer } from 'node:http'
import { createServer } from 'node:net'
import { parseArgs } from 'node:util'
import { Aedes } from 'aedes'
import { createWebSocketStream, WebSocketServer } from 'ws'

const { values } = parseArgs({
  options: {
    host: { type: 'string', default: '127.0.0.1' },
    port: { type: 'string', default: '0' },
    'ws-port': { type: 'string' },
  },
})
if (!values.host.startsWith('127.')) throw new Error('aedes bench server binds loopback only')

const broker = await Aedes.createBroker()
// Nagle off, like mqttd and mosquitto's set_tcp_nodelay in the comparison
const tcp = createServer({ noDelay: true }, broker.handle)
await new Promise<void>((resolve) => tcp.listen(Number(values.port), values.host, resolve))
const tcpPort = (tcp.address() as { port: number }).port

let wsPort = 0
const http = createHttpServer()
if (values['ws-port'] !== undefined) {
  const wss = new WebSocketServer({ server: http, perMessageDeflate: false })
  wss.on('connection', (ws) => broker.handle(createWebSocketStream(ws)))
  await new Promise<void>((resolve) => http.listen(Number(values['ws-port']), values.host, resolve))
  wsPort = (http.address() as { port: number }).port
}
process.stdout.write(`ready ${tcpPort} ${wsPort}\n`)

const stop = () => {
  tcp.close()
  http.close()
  broker.close(() => process.exit(0))
  setTimeout(() => process.exit(0), 1000).unref()
}
process.on('SIGTERM', stop)
process.on('SIGINT', stop)
