/**
 * A bare MQTT client over a real socket for protocol tests: sends any packet
 * (or raw bytes), and reads what the server sends, packet by packet.
 */
import { connect, type Socket } from 'node:net'
import type { TestContext } from 'node:test'
import mqttPacket, { type Packet } from 'mqtt-packet'

export interface RawClient {
  socket: Socket
  send(packet: Record<string, unknown>): void
  write(bytes: Buffer): void
  /** The next packet received (of `cmd`, skipping others when given), or null if the socket closed first. */
  next(cmd?: string, timeoutMs?: number): Promise<(Packet & Record<string, unknown>) | null>
  /** Resolves when the server closed the connection. */
  closed: Promise<void>
  received: Packet[]
}

export async function rawClient(
  t: TestContext,
  port: number,
  protocolVersion: 3 | 4 | 5 = 4,
): Promise<RawClient> {
  const socket = connect({ port, host: '127.0.0.1' })
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve)
    socket.once('error', reject)
  })
  socket.on('error', () => {})
  t.after(() => socket.destroy())
  const parser = mqttPacket.parser({ protocolVersion })
  const received: Packet[] = []
  const queue: Packet[] = []
  let wake: (() => void) | undefined
  let isClosed = false
  parser.on('packet', (p: Packet) => {
    received.push(p)
    queue.push(p)
    wake?.()
  })
  socket.on('data', (b: Buffer) => parser.parse(b))
  const closed = new Promise<void>((resolve) =>
    socket.once('close', () => {
      isClosed = true
      wake?.()
      resolve()
    }),
  )
  const next = async (cmd?: string, timeoutMs = 5000) => {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      while (queue.length > 0) {
        const p = queue.shift()!
        if (cmd === undefined || p.cmd === cmd) return p as Packet & Record<string, unknown>
      }
      if (isClosed) return null
      if (Date.now() > deadline) throw new Error(`no ${cmd ?? 'packet'} within ${timeoutMs} ms`)
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.max(0, deadline - Date.now()) + 1)
        wake = () => {
          clearTimeout(timer)
          resolve()
        }
      })
      wake = undefined
    }
  }
  return {
    socket,
    received,
    closed,
    next,
    write: (bytes) => socket.write(bytes),
    send: (packet) => socket.write(mqttPacket.generate(packet as unknown as Packet, { protocolVersion })),
  }
}

/** A CONNECT packet with sensible defaults. */
export function connectPacket(
  protocolVersion: 3 | 4 | 5,
  extra: Record<string, unknown> = {},
): Record<string, unknown> {
  return {
    cmd: 'connect',
    protocolId: protocolVersion === 3 ? 'MQIsdp' : 'MQTT',
    protocolVersion,
    clean: true,
    clientId: `raw-${protocolVersion}-${Math.random().toString(36).slice(2, 8)}`,
    keepalive: 0,
    ...extra,
  }
}
