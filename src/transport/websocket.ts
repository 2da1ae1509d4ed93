/**
 * MQTT over WebSocket in the worker: one `node:http` server with a `ws`
 * server in `noServer` mode per WS listener, never listening, fed with the
 * transferred raw socket through `server.emit('connection')`. The main
 * thread must not parse HTTP: after Node's HTTP parser reads the upgrade
 * request the socket is no longer transferable. TLS (wss) is done first by
 * a {@link TlsTransport}; its secure socket is fed here the same way.
 *
 * Not Fastify: its instance, router and schema compiler cost every worker
 * about 15 MB of RSS (measured, docs/operations.md) to serve one path.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http'
import type { Socket } from 'node:net'
import type { Duplex } from 'node:stream'
import { createWebSocketStream, type WebSocket, WebSocketServer } from 'ws'
import { closeOnTextFrames } from './binary-frames-only.ts'

/** Subprotocols MQTT clients send; some send none, which is accepted too. */
const subprotocols = ['mqtt', 'mqttv3.1']

export interface WebSocketUpgrade {
  stream: Duplex
  ws: WebSocket
  protocol: string
}

function pathOf(req: IncomingMessage): string {
  const url = req.url ?? '/'
  const q = url.indexOf('?')
  return q === -1 ? url : url.slice(0, q)
}

export class WebSocketTransport {
  readonly #http: Server
  readonly #wss: WebSocketServer
  readonly #waiting = new WeakMap<Socket, (upgrade: WebSocketUpgrade) => void>()
  readonly #path: string
  readonly #upgradeTimeoutMs: number

  constructor(options: { path: string; maxPayload: number; upgradeTimeoutMs: number }) {
    this.#path = options.path
    this.#upgradeTimeoutMs = options.upgradeTimeoutMs
    const explain = `mqttd: MQTT over WebSocket is served at ${options.path} (Upgrade: websocket)\n`
    this.#wss = new WebSocketServer({
      noServer: true,
      clientTracking: false,
      maxPayload: options.maxPayload,
      handleProtocols: (protocols: Set<string>) => subprotocols.find((p) => protocols.has(p)) ?? false,
    })
    // plain HTTP: 426 at the path, 404 elsewhere, with a line saying where MQTT is served
    this.#http = createServer((req, res) => {
      const here = pathOf(req) === this.#path
      res.writeHead(here ? 426 : 404, {
        'content-type': 'text/plain; charset=utf-8',
        ...(here ? { upgrade: 'websocket' } : {}),
      })
      res.end(explain)
    })
    this.#http.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      if (req.method !== 'GET' || pathOf(req) !== this.#path) {
        socket.end(
          `HTTP/1.1 404 Not Found\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n${explain}`,
        )
        return
      }
      this.#wss.handleUpgrade(req, socket, head, (ws) => {
        const raw = req.socket as Socket
        const resolve = this.#waiting.get(raw)
        if (resolve === undefined) return void ws.terminate()
        this.#waiting.delete(raw)
        const stream = createWebSocketStream(ws)
        closeOnTextFrames(ws, stream)
        resolve({ ws, stream, protocol: ws.protocol })
      })
    })
  }

  /** Kept for the worker's start-up sequence: nothing to wait for without Fastify. */
  async ready(): Promise<void> {}

  get path(): string {
    return this.#path
  }

  /**
   * Serves HTTP on the socket until it upgrades to a WebSocket (resolves with
   * the stream) or closes first (resolves null: a plain HTTP request). A
   * socket not upgraded within the connect timeout is destroyed.
   */
  accept(socket: Socket): Promise<WebSocketUpgrade | null> {
    return new Promise((resolve) => {
      // the HTTP server never listens, so its own request timeouts never run: bound the time to upgrade here
      const timer = setTimeout(() => socket.destroy(), this.#upgradeTimeoutMs)
      const onClose = () => {
        clearTimeout(timer)
        if (!this.#waiting.has(socket)) return
        this.#waiting.delete(socket)
        resolve(null)
      }
      socket.once('close', onClose)
      this.#waiting.set(socket, (upgrade) => {
        clearTimeout(timer)
        socket.off('close', onClose)
        resolve(upgrade)
      })
      this.#http.emit('connection', socket)
    })
  }

  async close(): Promise<void> {
    this.#http.closeAllConnections()
    await new Promise<void>((resolve) => this.#wss.close(() => resolve()))
  }
}
