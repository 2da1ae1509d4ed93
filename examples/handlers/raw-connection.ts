/**
 * Example handler: mqtt-connection's README server example, moved into mqttd unchanged. The body
 * of its `server.on('connection', function (stream) { var client = mqttCon(stream) … })` is the
 * body of `setup(client)` below, line for line: mqttd hands `setup` the Connection it built on
 * the stream, and `manualAcks: true` tells the framework that this code acknowledges packets
 * itself (CONNACK, PUBACK, SUBACK, PINGRESP), so mqttd sends none of its own and nothing goes out
 * twice. mqttd still enforces CONNECT first, the connect timeout, keepalive and the maximum packet
 * size.
 *
 * As in the README, it answers MQTT 3.1.1 clients (`returnCode`; a v5 CONNACK needs
 * `reasonCode`), grants `packet.qos` to a SUBSCRIBE with one filter, and sets the idle timeout
 * on a socket, so use it on tcp or tls listeners, with `broker: false`:
 *
 *   broker: false
 *   handlers: [./handlers/raw-connection.ts]
 *
 * (Two changes TypeScript and the linter ask for: the unused `packet` of the connect listener is
 * `_packet`, and the formatter puts the one-line listeners on three lines.)
 */
// biome-ignore-all lint/complexity/useArrowFunction: mqtt-connection's README code, kept as written
import type { Socket } from 'node:net'
import { type Connection, defineHandler } from 'mqttd'

export default defineHandler({
  name: 'raw-connection',
  manualAcks: true,

  setup(client: Connection) {
    const stream = client.stream as Socket

    // client connected
    client.on('connect', function (_packet) {
      // acknowledge the connect packet
      client.connack({ returnCode: 0 })
    })

    // client published
    client.on('publish', function (packet) {
      // send a puback with messageId (for QoS > 0)
      client.puback({ messageId: packet.messageId })
    })

    // client pinged
    client.on('pingreq', function () {
      // send a pingresp
      client.pingresp()
    })

    // client subscribed
    client.on('subscribe', function (packet) {
      // send a suback with messageId and granted QoS level
      client.suback({ granted: [packet.qos], messageId: packet.messageId })
    })

    // timeout idle streams after 5 minutes
    stream.setTimeout(1000 * 60 * 5)

    // connection error handling
    client.on('close', function () {
      client.destroy()
    })
    client.on('error', function () {
      client.destroy()
    })
    client.on('disconnect', function () {
      client.destroy()
    })

    // stream timeout
    stream.on('timeout', function () {
      client.destroy()
    })
  },
})
