/**
 * Opens the byte stream a load client speaks MQTT over: plain TCP, TLS or
 * WebSocket (binary frames, subprotocol `mqtt`). Every target must be on the
 * loopback range; source addresses rotate over 127.0.0.x so large connection
 * counts do not run out of ephemeral ports on a single source address.
 */
import net, { isIPv4 } from 'node:net'
import type { Duplex } from 'node:stream'
import tls from 'node:tls'
import WebSocket, { createWebSocketStream } from 'ws'

export type TransportKind = 'tcp' | 'tls' | 'ws'

export interface Target {
  transport: TransportKind
  host: string
  port: number
  /** WebSocket path, e.g. `/mqtt`. */
  path: string
}

/** Throws unless `host` is a loopback address: loads never leave this machine. */
export function assertLoopback(host: string): void {
  if (host === 'localhost' || host === '::1') return
  if (isIPv4(host) && host.startsWith('127.')) return
  throw new Error(`refusing target ${host}: load tests only target 127.0.0.0/8, ::1 or localhost`)
}

/** `count` source addresses 127.0.0.1 .. 127.0.0.count (count <= 254). */
export function sourceAddresses(count: number): string[] {
  const n = Math.max(1, Math.min(254, Math.floor(count)))
  return Array.from({ length: n }, (_, i) => `127.0.0.${i + 1}`)
}

/**
 * Connects and resolves once the stream is writable (TCP connected, or the
 * WebSocket upgrade completed).
 */
export function openStream(
  target: Target,
  localAddress: string | undefined,
  timeoutMs: number,
): Promise<Duplex> {
  if (target.transport === 'ws') return openWs(target, localAddress, timeoutMs)
  if (target.transport === 'tls') return openTls(target, localAddress, timeoutMs)
  return openTcp(target, localAddress, timeoutMs)
}

/**
 * TLS over loopback to a server with a throw-away certificate: the load is about the
 * server's handshake cost, so the client does not verify the chain.
 */
function openTls(target: Target, localAddress: string | undefined, timeoutMs: number): Promise<Duplex> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({
      host: target.host,
      port: target.port,
      ...(localAddress && target.host !== 'localhost' && target.host !== '::1' ? { localAddress } : {}),
      rejectUnauthorized: false,
      ALPNProtocols: ['mqtt'],
    })
    socket.setNoDelay(true)
    const timer = setTimeout(() => {
      socket.destroy()
      reject(new Error(`TLS connect timeout after ${timeoutMs} ms`))
    }, timeoutMs)
    const onError = (err: Error) => {
      clearTimeout(timer)
      reject(err)
    }
    socket.once('secureConnect', () => {
      clearTimeout(timer)
      socket.removeListener('error', onError)
      resolve(socket)
    })
    socket.once('error', onError)
  })
}

function openTcp(target: Target, localAddress: string | undefined, timeoutMs: number): Promise<Duplex> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({
      host: target.host,
      port: target.port,
      ...(localAddress && target.host !== 'localhost' && target.host !== '::1' ? { localAddress } : {}),
      noDelay: true,
    })
    const timer = setTimeout(() => {
      socket.destroy()
      reject(new Error(`TCP connect timeout after ${timeoutMs} ms`))
    }, timeoutMs)
    socket.once('connect', () => {
      clearTimeout(timer)
      socket.removeListener('error', onError)
      resolve(socket)
    })
    const onError = (err: Error) => {
      clearTimeout(timer)
      reject(err)
    }
    socket.once('error', onError)
  })
}

function openWs(target: Target, localAddress: string | undefined, timeoutMs: number): Promise<Duplex> {
  return new Promise((resolve, reject) => {
    const url = `ws://${target.host.includes(':') ? `[${target.host}]` : target.host}:${target.port}${target.path}`
    const ws = new WebSocket(url, 'mqtt', {
      perMessageDeflate: false,
      handshakeTimeout: timeoutMs,
      ...(localAddress && target.host.startsWith('127.') ? { localAddress } : {}),
    })
    ws.binaryType = 'nodebuffer'
    const onError = (err: Error) => reject(err)
    ws.once('error', onError)
    ws.once('open', () => {
      ws.removeListener('error', onError)
      const stream = createWebSocketStream(ws)
      // the wrapper re-emits socket errors; the client reports them on close
      stream.on('error', () => {})
      ;(ws as unknown as { _socket?: net.Socket })._socket?.setNoDelay(true)
      resolve(stream)
    })
  })
}
