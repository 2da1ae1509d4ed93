/**
 * MQTT over WebSocket in the worker: one Fastify app with
 * `@fastify/websocket` per WS listener, never listening, fed with the
 * transferred raw socket through `app.server.emit('connection')`. The main
 * thread must not parse HTTP: after Node's HTTP parser reads the upgrade
 * request the socket is no longer transferable. TLS (wss) is done first by
 * a {@link TlsTransport}; its secure socket is fed here the same way.
 */
import type { Socket } from 'node:net'
import type { Duplex } from 'node:stream'
import websocket from '@fastify/websocket'
import Fastify, { type FastifyInstance } from 'fastify'
import { createWebSocketStream, type WebSocket } from 'ws'
import { closeOnTextFrames } from './binary-frames-only.ts'

/** Subprotocols MQTT clients send; some send none, which is accepted too. */
const subprotocols = ['mqtt', 'mqttv3.1']

export interface WebSocketUpgrade {
  stream: Duplex
  ws: WebSocket
  protocol: string
}

export class WebSocketTransport {
  readonly #app: FastifyInstance
  readonly #waiting = new WeakMap<Socket, (upgrade: WebSocketUpgrade) => void>()
  readonly #path: string
  readonly #upgradeTimeoutMs: number

  constructor(options: { path: string; maxPayload: number; upgradeTimeoutMs: number }) {
    this.#path = options.path
    this.#upgradeTimeoutMs = options.upgradeTimeoutMs
    this.#app = Fastify({ logger: false })
    void this.#app.register(websocket, {
      options: {
        maxPayload: options.maxPayload,
        handleProtocols: (protocols: Set<string>) => subprotocols.find((p) => protocols.has(p)) ?? false,
      },
    })
    void this.#app.register(async (app) => {
      const explain = `mqttd: MQTT over WebSocket is served at ${options.path} (Upgrade: websocket)\n`
      app.route({
        method: 'GET',
        url: options.path,
        handler: (_req, reply) => reply.code(426).header('upgrade', 'websocket').send(explain),
        wsHandler: (ws, req) => {
          const raw = req.raw.socket as Socket
          const resolve = this.#waiting.get(raw)
          if (resolve === undefined) return void ws.terminate()
          this.#waiting.delete(raw)
          const stream = createWebSocketStream(ws)
          closeOnTextFrames(ws, stream)
          resolve({ ws, stream, protocol: ws.protocol })
        },
      })
      app.setNotFoundHandler((_req, reply) => reply.code(404).send(explain))
    })
  }

  async ready(): Promise<void> {
    await this.#app.ready()
  }

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
      this.#app.server.emit('connection', socket)
    })
  }

  async close(): Promise<void> {
    await this.#app.close()
  }
}
