/**
 * Example handler in mqtt-connection's style: `setup(client)` receives the Connection and
 * listens to its packet events, as in mqtt-connection's README server example. Code written for
 * `mqttCon(stream)` moves into `setup` almost unchanged.
 *
 * One difference: inside mqttd the framework answers the protocol itself (CONNACK, PUBACK,
 * PINGRESP, SUBACK with the outcome of the hook chain), so the README's `client.connack(…)`,
 * `client.puback(…)`, `client.pingresp()` and `client.suback(…)` lines go; calling them too
 * would send each acknowledgement twice. Everything else — events, sending packets with
 * `client.publish(…)`, the stream, `destroy()` — works as before.
 *
 * This one is a loopback server: each client receives its own messages on the topics it
 * subscribed to (run it with `broker: false`).
 *
 *   broker: false
 *   handlers: [./handlers/raw-connection.ts]
 */
import type { Socket } from 'node:net'
import type { IPublishPacket, ISubscribePacket } from 'mqtt-packet'
import { type Connection, defineHandler } from 'mqttd'
import { topicMatches } from './lib/topic-acl.ts'

export default defineHandler({
  name: 'raw-connection',

  setup(client: Connection, ctx) {
    const filters = new Set<string>()

    // client connected (mqttd sends the CONNACK)
    client.on('connect', (packet) => {
      ctx.log.debug({ clientId: packet.clientId }, 'raw-connection: client connected')
    })

    // client published: loop it back if the client subscribed to it (mqttd sends the PUBACK)
    client.on('publish', (packet: IPublishPacket) => {
      if ([...filters].some((f) => topicMatches(f, packet.topic))) {
        client.publish({ topic: packet.topic, payload: packet.payload, qos: 0, retain: false })
      }
    })

    // client subscribed (mqttd sends the SUBACK with the granted QoS)
    client.on('subscribe', (packet: ISubscribePacket) => {
      for (const sub of packet.subscriptions) filters.add(sub.topic)
    })

    // connection error handling
    client.on('close', () => client.destroy())
    client.on('error', () => client.destroy())
    client.on('disconnect', () => client.destroy())

    // timeout idle streams after 5 minutes (TCP and TLS streams are sockets; WebSocket ones are not)
    const stream = client.stream as Partial<Socket> & typeof client.stream
    stream.setTimeout?.(1000 * 60 * 5)
    stream.on('timeout', () => client.destroy())
  },
})
