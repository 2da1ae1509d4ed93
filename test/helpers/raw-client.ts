/**
 * A bare MQTT client over a real TCP socket, built on mqtt-packet, for tests
 * that need what mqtt.js does not do on purpose: send any packet or raw bytes
 * (invalid topics, malformed input), withhold acknowledgements, stop reading
 * its socket, go silent past its keepalive. It reads what the server sends,
 * packet by packet.
 */
import { type Socket, connect as tcpConnect } from 'node:net'
import type { TestContext } from 'node:test'
import mqttPacket, {
  type IConnackPacket,
  type IConnectPacket,
  type IPublishPacket,
  type Packet,
} from 'mqtt-packet'

type AnyPacket = Packet & Record<string, unknown>

export class RawClient {
  readonly socket: Socket
  readonly version: 3 | 4 | 5
  /** Every packet received, in order. */
  readonly received: Packet[] = []
  /** Resolves when the connection closed. */
  readonly closed: Promise<void>
  /** Received packets `next()` has not returned yet. */
  #unread: Packet[] = []
  #waiters: (() => void)[] = []

  constructor(socket: Socket, version: 3 | 4 | 5) {
    this.socket = socket
    this.version = version
    const parser = mqttPacket.parser({ protocolVersion: version })
    parser.on('packet', (p: Packet) => {
      this.received.push(p)
      this.#unread.push(p)
      this.#wake()
    })
    socket.on('data', (chunk: Buffer) => parser.parse(chunk))
    socket.on('error', () => {})
    this.closed = new Promise((resolve) =>
      socket.once('close', () => {
        this.#wake()
        resolve()
      }),
    )
  }

  /** Opens a TCP connection (nothing sent yet); destroyed when the test ends. */
  static async open(t: TestContext, port: number, version: 3 | 4 | 5 = 4): Promise<RawClient> {
    const socket = tcpConnect({ host: '127.0.0.1', port })
    t.after(() => socket.destroy())
    await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject))
    return new RawClient(socket, version)
  }

  /** Connects (MQTT 5 unless `fields.protocolVersion` says otherwise) and waits for CONNACK. */
  static async connect(
    t: TestContext,
    port: number,
    fields: Partial<IConnectPacket> & { clientId: string },
  ): Promise<{ client: RawClient; connack: IConnackPacket }> {
    const version = (fields.protocolVersion ?? 5) as 4 | 5
    const client = await RawClient.open(t, port, version)
    client.send({
      cmd: 'connect',
      protocolId: 'MQTT',
      protocolVersion: version,
      clean: true,
      keepalive: 0,
      ...fields,
    })
    const [connack] = await client.waitFor((p) => p.cmd === 'connack')
    return { client, connack: connack as IConnackPacket }
  }

  /** Sends a packet (generated for this client's protocol version). */
  send(packet: Packet | Record<string, unknown>): void {
    this.socket.write(mqttPacket.generate(packet as Packet, { protocolVersion: this.version }))
  }

  /** Sends raw bytes. */
  write(bytes: Buffer): void {
    this.socket.write(bytes)
  }

  /**
   * The next packet not returned before (of `cmd`, skipping others when
   * given), or null if the connection closed first.
   */
  async next(cmd?: string, timeoutMs = 5000): Promise<AnyPacket | null> {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      while (this.#unread.length > 0) {
        const p = this.#unread.shift()!
        if (cmd === undefined || p.cmd === cmd) return p as AnyPacket
      }
      if (this.socket.destroyed) return null
      if (Date.now() > deadline) throw new Error(`no ${cmd ?? 'packet'} within ${timeoutMs} ms`)
      await this.#wait(deadline)
    }
  }

  /** Resolves with the packets received so far matching `match` once there are `count` of them. */
  async waitFor(match: (p: Packet) => boolean, count = 1, timeoutMs = 5000): Promise<Packet[]> {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const got = this.received.filter(match)
      if (got.length >= count) return got
      if (Date.now() >= deadline || this.socket.destroyed) {
        throw new Error(
          `expected ${count} packets, got ${got.length} (all: ${this.received.map((p) => p.cmd).join(',')})`,
        )
      }
      await this.#wait(deadline)
    }
  }

  /** The worker the connection runs on, as the worker-id fixture told it. */
  async worker(): Promise<number> {
    const [p] = await this.waitFor((x) => x.cmd === 'publish' && x.topic === '$mqttd/test/worker')
    return Number(String((p as { payload: Buffer }).payload))
  }

  /** PUBLISH packets received, without the worker-id one. */
  publishes(): IPublishPacket[] {
    return this.received.filter(
      (p): p is IPublishPacket => p.cmd === 'publish' && p.topic !== '$mqttd/test/worker',
    )
  }

  destroy(): void {
    this.socket.destroy()
  }

  /** Until the next packet, the close, or `deadline`. */
  #wait(deadline: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, Math.max(0, deadline - Date.now()) + 1)
      this.#waiters.push(() => {
        clearTimeout(timer)
        resolve()
      })
    })
  }

  #wake(): void {
    for (const w of this.#waiters.splice(0)) w()
  }
}

/** Opens a raw client at `protocolVersion` (nothing sent yet); see {@link RawClient.open}. */
export function rawClient(t: TestContext, port: number, protocolVersion: 3 | 4 | 5 = 4): Promise<RawClient> {
  return RawClient.open(t, port, protocolVersion)
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
