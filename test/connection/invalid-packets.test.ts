// Invalid outgoing packets (cases from mqtt-connection's transmit tests): each yields
// exactly one MQTTD_ERR_INVALID_PACKET error event and a failed callback, writes no
// byte of the bad packet, and the connection keeps working.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { Connection } from '../../src/connection/connection.ts'
import type { PacketCmd } from '../../src/connection/types.ts'
import { MqttdError } from '../../src/errors.ts'
import { RecordingStream, tick } from './helpers.ts'

const cases: [name: string, version: 4 | 5, cmd: PacketCmd, opts: object, message: RegExp][] = [
  ['connect: non-string protocolId', 4, 'connect', { protocolId: 42, clientId: 'a' }, /Invalid protocolId/],
  [
    'connect: unknown protocol version',
    4,
    'connect',
    { protocolVersion: 7, clientId: 'a' },
    /Invalid protocol version/,
  ],
  ['connect: keepalive < 0', 4, 'connect', { keepalive: -1, clientId: 'a' }, /Invalid keepalive/],
  ['connect: keepalive > 65535', 4, 'connect', { keepalive: 65536, clientId: 'a' }, /Invalid keepalive/],
  [
    'connect: will without topic',
    4,
    'connect',
    { clientId: 'a', will: { payload: 'x' } },
    /Invalid will topic/,
  ],
  [
    'connect: no clientId without clean',
    4,
    'connect',
    { clientId: '', clean: false },
    /clientId must be given/,
  ],
  [
    'connect: password without username',
    4,
    'connect',
    { clientId: 'a', password: 'p' },
    /Username is required/,
  ],
  ['connack: non-number return code', 4, 'connack', { returnCode: 'x' }, /Invalid return code/],
  ['publish: non-string topic', 4, 'publish', { topic: 42 }, /Invalid topic/],
  ['publish: QoS 1 without messageId', 4, 'publish', { topic: 'a', qos: 1 }, /Invalid messageId/],
  ['publish: messageId > 65535', 4, 'publish', { topic: 'a', qos: 1, messageId: 65536 }, /./],
  [
    'publish: v5 invalid property',
    5,
    'publish',
    { topic: 'a', properties: { topicAlias: 'x' } },
    /Invalid topicAlias/,
  ],
  ['puback: no messageId', 4, 'puback', {}, /Invalid messageId/],
  [
    'puback: v5 empty userProperties',
    5,
    'puback',
    { messageId: 1, properties: { userProperties: {} } },
    /invalid properties/,
  ],
  [
    'subscribe: subscriptions not an array',
    4,
    'subscribe',
    { messageId: 1, subscriptions: 'x' },
    /Invalid subscriptions/,
  ],
  ['suback: granted not an array', 4, 'suback', { messageId: 1, granted: 'x' }, /Invalid qos vector/],
  [
    'unsubscribe: unsubscriptions not an array',
    4,
    'unsubscribe',
    { messageId: 1, unsubscriptions: 'x' },
    /Invalid unsubscriptions/,
  ],
]

describe('invalid outgoing packets', () => {
  for (const [name, version, cmd, opts, message] of cases) {
    it(name, async () => {
      const raw = new RecordingStream()
      const conn = Connection(raw, { protocolVersion: version })
      const errors: Error[] = []
      conn.on('error', (err) => errors.push(err))
      conn.pingreq()
      const send = conn[cmd] as (o: object, cb: (err?: Error | null) => void) => boolean
      const cbErr = await new Promise<Error | null | undefined>((resolve) => send.call(conn, opts, resolve))
      conn.pingreq()
      await tick()
      assert.ok(cbErr instanceof MqttdError, `callback got ${cbErr}`)
      assert.equal(cbErr.code, 'MQTTD_ERR_INVALID_PACKET')
      assert.match(cbErr.message, message)
      assert.deepEqual(errors, [cbErr])
      assert.deepEqual([...raw.written()], [0xc0, 0, 0xc0, 0])
      assert.equal(conn.destroyed, false)
      conn.destroy()
    })
  }
})
