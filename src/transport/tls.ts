/**
 * TLS in the worker: one non-listening `tls.Server` per TLS listener, fed
 * with the transferred raw socket through `emit('connection')`. The main
 * thread never sees a TLS byte (it could not transfer a TLSSocket anyway).
 */
import type { Socket } from 'node:net'
import { createServer, type PeerCertificate, type Server, type TLSSocket } from 'node:tls'

/** PEM material and options of one TLS listener, as read by the main thread. */
export interface TlsMaterial {
  key: string
  cert: string
  ca?: string[]
  requestCert: boolean
  rejectUnauthorized: boolean
  minVersion: 'TLSv1.2' | 'TLSv1.3'
}

interface Waiter {
  resolve: (socket: TLSSocket) => void
  reject: (err: Error) => void
}

// tls.Server wraps the raw socket in a TLSSocket whose `_parent` is that raw socket (Node internals, stable since v0.11)
function rawOf(tlsSocket: TLSSocket): Socket | undefined {
  return (tlsSocket as unknown as { _parent?: Socket })._parent
}

export class TlsTransport {
  readonly #server: Server
  readonly #waiting = new WeakMap<Socket, Waiter>()

  /**
   * @param alpn ALPN protocols offered: `mqtt` for MQTT over TLS, `http/1.1` under a WebSocket (browsers offer it)
   */
  constructor(material: TlsMaterial, handshakeTimeoutMs: number, alpn: string[]) {
    this.#server = createServer({
      key: material.key,
      cert: material.cert,
      ca: material.ca,
      requestCert: material.requestCert,
      rejectUnauthorized: material.rejectUnauthorized,
      minVersion: material.minVersion,
      ALPNProtocols: alpn,
      handshakeTimeout: handshakeTimeoutMs,
    })
    this.#server.on('secureConnection', (tlsSocket: TLSSocket) => {
      const raw = rawOf(tlsSocket)
      const waiter = raw === undefined ? undefined : this.#waiting.get(raw)
      if (waiter === undefined) return void tlsSocket.destroy()
      this.#waiting.delete(raw!)
      waiter.resolve(tlsSocket)
    })
    this.#server.on('tlsClientError', (err: Error, tlsSocket: TLSSocket) => {
      const raw = rawOf(tlsSocket)
      const waiter = raw === undefined ? undefined : this.#waiting.get(raw)
      tlsSocket.destroy()
      if (waiter === undefined) return
      this.#waiting.delete(raw!)
      waiter.reject(err)
    })
  }

  /**
   * Replaces the key, certificate and CA (a reload): connections that start
   * their handshake from now on get them; established ones keep theirs.
   */
  setMaterial(material: TlsMaterial): void {
    this.#server.setSecureContext({ key: material.key, cert: material.cert, ca: material.ca })
  }

  /** Runs the TLS handshake on a raw socket; resolves with the secure socket. */
  accept(socket: Socket): Promise<TLSSocket> {
    return new Promise((resolve, reject) => {
      const onClose = () => {
        if (!this.#waiting.has(socket)) return
        this.#waiting.delete(socket)
        reject(Object.assign(new Error('socket closed during the TLS handshake'), { code: 'ECONNRESET' }))
      }
      socket.once('close', onClose)
      this.#waiting.set(socket, {
        resolve: (s) => {
          socket.off('close', onClose)
          resolve(s)
        },
        reject: (e) => {
          socket.off('close', onClose)
          reject(e)
        },
      })
      this.#server.emit('connection', socket)
    })
  }
}

/** The client certificate, or null when none was asked for or sent. */
export function peerCertificateOf(socket: TLSSocket): PeerCertificate | null {
  const cert = socket.getPeerCertificate()
  return cert === null || Object.keys(cert).length === 0 ? null : cert
}
