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
import type { FastifyInstance } from 'fastify'
import type { WebSocket } from 'ws'
import { closeOnTextFrames } from './binary-frames-only.ts'

/** Subprotocols MQTT clients send; some send none, which is accepted too. */
const subprotocols = ['mqtt', 'mqttv3.1']

/** What a WebSocket listener's transport needs from the config. */
export interface WebSocketTransportOptions {
  /** The URL path of the upgrade. */
  path: string
  /** ws's `maxPayload`: the largest frame accepted, bytes. */
  maxPayload: number
  /** A socket not upgraded within this time is destroyed. */
  upgradeTimeoutMs: number
}

export interface WebSocketUpgrade {
  stream: Duplex
  ws: WebSocket
  protocol: string
}

export class WebSocketTransport {
  readonly #options: WebSocketTransportOptions
  #app: Promise<FastifyInstance> | undefined
  readonly #waiting = new WeakMap<Socket, (upgrade: WebSocketUpgrade) => void>()

  constructor(options: WebSocketTransportOptions) {
    this.#options = options
  }

  /**
   * The Fastify app, built at the first connection: Fastify, `@fastify/websocket`
   * and `ws` are ~4 MB of heap per worker that a worker without WebSocket
   * clients never uses.
   */
  async #build(): Promise<FastifyInstance> {
    const [{ default: Fastify }, { default: websocket }, { createWebSocketStream }] = await Promise.all([
      import('fastify'),
      import('@fastify/websocket'),
      import('ws'),
    ])
    const options = this.#options
    const app = Fastify({ logger: false })
    void app.register(websocket, {
      options: {
        maxPayload: options.maxPayload,
        handleProtocols: (protocols: Set<string>) => subprotocols.find((p) => protocols.has(p)) ?? false,
      },
    })
    void app.register(async (app) => {
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
    await app.ready()
    return app
  }

  get path(): string {
    return this.#options.path
  }

  /**
   * Serves HTTP on the socket until it upgrades to a WebSocket (resolves with
   * the stream) or closes first (resolves null: a plain HTTP request). A
   * socket not upgraded within the connect timeout is destroyed.
   */
  accept(socket: Socket): Promise<WebSocketUpgrade | null> {
    return new Promise((resolve, reject) => {
      // the HTTP server never listens, so its own request timeouts never run: bound the time to upgrade here
      const timer = setTimeout(() => socket.destroy(), this.#options.upgradeTimeoutMs)
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
      this.#app ??= this.#build()
      this.#app.then(
        (app) => {
          // closed while the app was being built: onClose already resolved
          if (!socket.destroyed) app.server.emit('connection', socket)
        },
        (error: unknown) => {
          // the app could not be built: every connection of this listener fails with why, loudly
          socket.destroy()
          reject(error)
        },
      )
    })
  }

  async close(): Promise<void> {
    const app = await this.#app?.catch(() => undefined)
    await app?.close()
  }
}
