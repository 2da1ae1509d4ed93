/**
 * Reads the PROXY protocol header off a freshly transferred socket, in the
 * worker, before TLS, WebSocket or MQTT see a byte. The bytes read past the
 * header are put back with `unshift`, and the socket is left as it came:
 * not flowing, no listener of ours. What reads it next gets the client's
 * first byte: `tls.TLSSocket` feeds buffered data to its handle, Node's HTTP
 * server (WebSocket upgrade) and the MQTT Connection read it as `data`.
 */
import type { Socket } from 'node:net'
import { type ProxyHeader, ProxyHeaderError, parseProxyHeader } from './proxy-protocol.ts'

/** Why reading the header failed: bad bytes, no complete header in time, or the peer left first. */
export type ProxyHeaderFailure = 'invalid' | 'timeout' | 'closed'

export class ProxyHeaderReadError extends Error {
  override name = 'ProxyHeaderReadError'
  readonly reason: ProxyHeaderFailure

  constructor(reason: ProxyHeaderFailure, message: string) {
    super(message)
    this.reason = reason
  }
}

/**
 * Resolves with the header once complete (its `rest` already put back on
 * the socket), or rejects with a {@link ProxyHeaderReadError}. The caller
 * closes the socket on rejection.
 */
export function readProxyHeader(socket: Socket, timeoutMs: number): Promise<ProxyHeader> {
  return new Promise((resolve, reject) => {
    let received: Buffer = Buffer.alloc(0)
    const finish = (outcome: ProxyHeader | ProxyHeaderReadError) => {
      clearTimeout(timer)
      socket.off('readable', onReadable)
      socket.off('close', onClose)
      if (outcome instanceof ProxyHeaderReadError) return reject(outcome)
      if (outcome.rest.length > 0) socket.unshift(outcome.rest)
      resolve(outcome)
    }
    const onReadable = () => {
      let chunk: Buffer | null
      // biome-ignore lint/suspicious/noAssignInExpressions: the read loop of a paused stream
      while ((chunk = socket.read() as Buffer | null) !== null) {
        received = received.length === 0 ? chunk : Buffer.concat([received, chunk])
      }
      try {
        const header = parseProxyHeader(received)
        if (header !== null) finish(header)
      } catch (err) {
        // thrown in a stream event: whatever it is, it refuses this connection and nothing else
        const message = err instanceof ProxyHeaderError ? err.message : `parser failed: ${String(err)}`
        finish(new ProxyHeaderReadError('invalid', message))
      }
    }
    const onClose = () =>
      finish(new ProxyHeaderReadError('closed', `closed after ${received.length} bytes of the PROXY header`))
    const timer = setTimeout(
      () =>
        finish(
          new ProxyHeaderReadError(
            'timeout',
            `no complete PROXY header within ${timeoutMs} ms (${received.length} bytes received)`,
          ),
        ),
      timeoutMs,
    )
    socket.on('readable', onReadable)
    socket.once('close', onClose)
  })
}
