// An mqtt.js client talking to a tiny server built on Connection, over TCP.
import assert from 'node:assert/strict'
import { EventEmitter, once } from 'node:events'
import net from 'node:net'
import { describe, it } from 'node:test'
import mqtt from 'mqtt'
import { Connection } from '../../src/connection/connection.ts'
import type { ConnectPacket, Subscription } from '../../src/connection/types.ts'

/** CONNECT→CONNACK, SUBSCRIBE→SUBACK, PUBLISH (QoS 1)→PUBACK, and delivery to matching subscribers. */
function tinyBroker() {
  const seen: ConnectPacket[] = []
  const events = new EventEmitter()
  const subscribers = new Map<string, Set<ReturnType<typeof Connection>>>()
  const server = net.createServer((socket) => {
    const conn = Connection(socket)
    let nextId = 1
    conn.on('connect', (packet) => {
      seen.push(packet)
      conn.connack({ returnCode: 0, reasonCode: 0, sessionPresent: false })
    })
    conn.on('subscribe', (packet) => {
      for (const s of packet.subscriptions as Subscription[]) {
        if (!subscribers.has(s.topic)) subscribers.set(s.topic, new Set())
        subscribers.get(s.topic)!.add(conn)
      }
      conn.suback({
        messageId: packet.messageId,
        granted: packet.subscriptions.map((s: Subscription) => s.qos),
      })
    })
    conn.on('publish', (packet) => {
      if (packet.qos === 1) conn.puback({ messageId: packet.messageId, reasonCode: 0 })
      for (const sub of subscribers.get(packet.topic) ?? []) {
        sub.publish({ topic: packet.topic, payload: packet.payload, qos: 1, messageId: nextId++ })
      }
    })
    conn.on('puback', (packet) => events.emit('puback', packet))
    conn.on('pingreq', () => conn.pingresp())
    conn.on('disconnect', () => conn.destroy())
    conn.on('error', () => conn.destroy())
    conn.on('close', () => {
      for (const set of subscribers.values()) set.delete(conn)
    })
  })
  return { server, seen, events }
}

describe('mqtt.js client against a server built on Connection', () => {
  for (const protocolVersion of [4, 5] as const) {
    it(`v${protocolVersion}: connects, subscribes, publishes QoS 1 and receives the message`, async () => {
      const broker = tinyBroker()
      const { server, seen } = broker
      server.listen(0, '127.0.0.1')
      await once(server, 'listening')
      const { port } = server.address() as net.AddressInfo
      const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, {
        protocolVersion,
        clientId: `mqttjs-v${protocolVersion}`,
        reconnectPeriod: 0,
        connectTimeout: 5000,
      })
      try {
        assert.equal(seen[0]!.protocolVersion, protocolVersion)
        assert.equal(seen[0]!.clientId, `mqttjs-v${protocolVersion}`)
        const granted = await client.subscribeAsync('t/1', { qos: 1 })
        assert.deepEqual(
          granted.map((g) => [g.topic, g.qos]),
          [['t/1', 1]],
        )
        const received = new Promise<[string, Buffer, { qos: number }]>((resolve) =>
          client.once('message', (...args) => resolve(args)),
        )
        const acked = once(broker.events, 'puback')
        // a QoS 1 publish resolves only once the PUBACK arrived
        const sent = await client.publishAsync('t/1', 'hello', { qos: 1 })
        assert.equal((sent as { qos?: number } | undefined)?.qos, 1)
        const [topic, payload, packet] = await received
        assert.equal(topic, 't/1')
        assert.equal(payload.toString(), 'hello')
        assert.equal(packet.qos, 1)
        // mqtt.js acknowledges the QoS 1 delivery
        await acked
      } finally {
        await client.endAsync()
        server.close()
      }
    })
  }
})
