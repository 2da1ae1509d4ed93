// Type-level contract of `mqttd/connection`, checked by `npm run typecheck`
// (each @ts-expect-error fails the typecheck if the line stops being an error);
// the runtime part only makes sure the calls behave as typed.
import assert from 'node:assert/strict'
import { it } from 'node:test'
import Connection, {
  type ConnackPacket,
  type ConnectionEvents,
  type ConnectionOptions,
  type Connection as ConnectionType,
  type ConnectPacket,
  MqttdError,
  type Packet,
  type PublishOptions,
  type PublishPacket,
} from '../../src/connection/index.ts'
import { RecordingStream } from './helpers.ts'

it('types: both call forms, typed events and send options', () => {
  const opts: ConnectionOptions = { protocolVersion: 5, maxPacketSize: 1024 }
  const a: ConnectionType = Connection(new RecordingStream(), opts)
  const b: ConnectionType = new Connection(new RecordingStream(), () => {})
  a.on('publish', (packet: PublishPacket) => {
    const payload: Buffer = packet.payload
    const topic: string = packet.topic
    void payload
    void topic
  })
  a.on('connect', (packet: ConnectPacket) => void packet.clientId)
  a.once('connack', (packet: ConnackPacket) => void packet.sessionPresent)
  a.on('data', (packet: Packet) => void packet.cmd)
  a.on('error', (err) => {
    // coded errors carry code and reasonCode
    if (err instanceof MqttdError) void (err.reasonCode satisfies number | undefined)
  })
  a.on('drain', () => {})
  // @ts-expect-error not an event of the Connection
  a.on('publsh', () => {})
  // @ts-expect-error a publish listener gets a PublishPacket, not a string
  a.on('publish', (packet: string) => void packet)
  const publish: PublishOptions = { topic: 't', payload: 'x', qos: 1, messageId: 1 }
  const ok: boolean = a.publish(publish, (err) => void err)
  // @ts-expect-error QoS 3 does not exist
  a.publish({ topic: 't', qos: 3 })
  // @ts-expect-error suback needs granted
  a.suback({ messageId: 1 })
  const version: number = a.protocolVersion
  assert.throws(() => {
    // @ts-expect-error read-only
    a.protocolVersion = 5
  }, TypeError)
  const events: keyof ConnectionEvents = 'auth'
  assert.equal(typeof ok, 'boolean')
  assert.equal(version, 5)
  assert.equal(events, 'auth')
  a.destroy()
  b.destroy()
})
