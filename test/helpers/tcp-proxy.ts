/**
 * A TCP proxy in front of a server, to cut one client process off (every
 * connection through it closed, new ones refused) and let it back, while the
 * server and its other clients go on.
 */
import { createServer, type Server, type Socket, connect as tcpConnect } from 'node:net'
import { freePort } from '../../load-tests/free-ports.ts'

export interface TcpProxy {
  url: string
  /** Closes every connection through it and refuses new ones until `restore`. */
  cut(): Promise<void>
  restore(): Promise<void>
  close(): Promise<void>
}

export async function startTcpProxy(targetPort: number, scheme = 'nats'): Promise<TcpProxy> {
  const port = await freePort()
  const sockets = new Set<Socket>()
  let server: Server | undefined
  const listen = () =>
    new Promise<void>((resolve, reject) => {
      const s = createServer((client) => {
        const upstream = tcpConnect(targetPort, '127.0.0.1')
        for (const sock of [client, upstream]) {
          sockets.add(sock)
          sock.on('close', () => sockets.delete(sock))
          sock.on('error', () => {})
        }
        client.pipe(upstream).pipe(client)
        client.on('close', () => upstream.destroy())
        upstream.on('close', () => client.destroy())
      })
      s.once('error', reject)
      s.listen(port, '127.0.0.1', () => resolve())
      server = s
    })
  const stop = async () => {
    const s = server
    server = undefined
    for (const sock of sockets) sock.destroy()
    if (s !== undefined) await new Promise((resolve) => s.close(resolve))
  }
  await listen()
  return { url: `${scheme}://127.0.0.1:${port}`, cut: stop, restore: listen, close: stop }
}
