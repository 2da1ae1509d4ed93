/**
 * A bare MQTT client over TCP built on mqtt-packet, for tests that need what
 * mqtt.js does not do on purpose: withhold acknowledgements, send invalid
 * topics, stop reading its socket, go silent past its keepalive.
 */
import { type Socket, connect as tcpConnect } from 'node:net'
import type { TestContext } from 'node:test'
import mqttPacket, {
  type IConnackPacket,
  type IConnectPacket,
  type IPublishPacket,
  type Packet,
} from 'mqtt-packet'

export class RawClient {
  readonly socket: Socket
  readonly packets: Packet[] = []
  readonly version: 4 | 5
  readonly closed: Promise<void>
  #waiters: (() => void)[] = []

  private constructor(socket: Socket, version: 4 | 5) {
    this.socket = socket
    this.version = version
    const parser = mqttPacket.parser({ protocolVersion: version })
    parser.on('packet', (p: Packet) => {
      this.packets.push(p)
      for (const w of this.#waiters.splice(0)) w()
    })
    socket.on('data', (chunk: Buffer) => parser.parse(chunk))
    socket.on('error', () => {})
    this.closed = new Promise((resolve) =>
      socket.once('close', () => {
        for (const w of this.#waiters.splice(0)) w()
        resolve()
      }),
    )
  }

  /** Connects and waits for CONNACK; destroyed when the test ends. */
  static async connect(
    t: TestContext,
    port: number,
    fields: Partial<IConnectPacket> & { clientId: string },
  ): Promise<{ client: RawClient; connack: IConnackPacket }> {
    const version = (fields.protocolVersion ?? 5) as 4 | 5
    const socket = tcpConnect({ host: '127.0.0.1', port })
    t.after(() => socket.destroy())
    await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject))
    const client = new RawClient(socket, version)
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

  /** The worker the connection runs on, as the worker-id fixture told it. */
  async worker(): Promise<number> {
    const [p] = await this.waitFor((x) => x.cmd === 'publish' && x.topic === '$mqttd/test/worker')
    return Number(String((p as { payload: Buffer }).payload))
  }

  /** PUBLISH packets received, without the worker-id one. */
  publishes(): IPublishPacket[] {
    return this.packets.filter(
      (p): p is IPublishPacket => p.cmd === 'publish' && p.topic !== '$mqttd/test/worker',
    )
  }

  send(packet: Packet): void {
    this.socket.write(mqttPacket.generate(packet, { protocolVersion: this.version }))
  }

  /** Resolves with the packets matching `match` once there are `count` of them. */
  async waitFor(match: (p: Packet) => boolean, count = 1, timeoutMs = 5000): Promise<Packet[]> {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const got = this.packets.filter(match)
      if (got.length >= count) return got
      const left = deadline - Date.now()
      if (left <= 0 || this.socket.destroyed) {
        throw new Error(
          `expected ${count} packets, got ${got.length} (all: ${this.packets.map((p) => p.cmd).join(',')})`,
        )
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left)
        this.#waiters.push(() => {
          clearTimeout(timer)
          resolve()
        })
      })
    }
  }

  destroy(): void {
    this.socket.destroy()
  }
}
