// Differential test against mqtt-connection 4.1.0: the same invalid send calls go through the
// original and through mqttd's Connection, each on a fresh real TCP connection, and must give
// the same error messages, the same event/callback sequence and the same bytes on the wire.
// mqttd's extras ride on the error object (code, cmd, cause). Documented differences (the
// callback gets the error; no stall afterwards) are asserted in their own tests.
import assert from 'node:assert/strict'
import { once } from 'node:events'
import { createRequire } from 'node:module'
import { createServer, type Server, type Socket, connect as tcpConnect } from 'node:net'
import type { Duplex } from 'node:stream'
import { after, before, describe, it } from 'node:test'
import { Connection } from '../../src/connection/connection.ts'
import { generateStream } from '../../src/connection/streams.ts'
import type { PacketCmd } from '../../src/connection/types.ts'
import { MqttdError } from '../../src/errors.ts'

const require = createRequire(import.meta.url)
type SendFn = (opts: object, cb?: (err?: Error | null) => void) => unknown
type AnyConnection = NodeJS.EventEmitter & Record<string, unknown> & { destroy(): void }
const LegacyConnection = require('mqtt-connection') as ((stream: Duplex, opts?: object) => AnyConnection) & {
  generateStream(opts?: object): Duplex
}

// [name, protocol version the connection is set to, send method, options]: every check of
// mqtt-packet's writeToStream that a send method can reach.
const cases: [string, 4 | 5, PacketCmd, object][] = [
  ['connect: non-string protocolId', 4, 'connect', { protocolId: 42, clientId: 'a' }],
  ['connect: unknown protocol version', 4, 'connect', { protocolVersion: 7, clientId: 'a' }],
  ['connect: MQTT 3.1 without clientId', 4, 'connect', { protocolVersion: 3, clientId: '' }],
  ['connect: no clientId without clean', 4, 'connect', { clientId: '', clean: false }],
  ['connect: non-string clientId without clean', 4, 'connect', { clientId: 42, clean: false }],
  ['connect: keepalive < 0', 4, 'connect', { clientId: 'a', keepalive: -1 }],
  ['connect: keepalive > 65535', 4, 'connect', { clientId: 'a', keepalive: 65_536 }],
  ['connect: fractional keepalive', 4, 'connect', { clientId: 'a', keepalive: 1.5 }],
  ['connect: string keepalive', 4, 'connect', { clientId: 'a', keepalive: '10' }],
  ['connect: will not an object', 4, 'connect', { clientId: 'a', will: 'x' }],
  ['connect: will without topic', 4, 'connect', { clientId: 'a', will: { payload: 'x' } }],
  ['connect: will with a non-string topic', 4, 'connect', { clientId: 'a', will: { topic: 42 } }],
  ['connect: will payload a number', 4, 'connect', { clientId: 'a', will: { topic: 't', payload: 42 } }],
  ['connect: username a number', 4, 'connect', { clientId: 'a', username: 42 }],
  ['connect: password without username', 4, 'connect', { clientId: 'a', password: 'p' }],
  ['connect: password a number', 4, 'connect', { clientId: 'a', username: 'u', password: 42 }],
  [
    'connect: v5 sessionExpiryInterval < 0',
    5,
    'connect',
    { clientId: 'a', protocolVersion: 5, properties: { sessionExpiryInterval: -1 } },
  ],
  [
    'connect: v5 will property of the wrong type',
    5,
    'connect',
    { clientId: 'a', protocolVersion: 5, will: { topic: 't', properties: { contentType: 42 } } },
  ],
  ['connack: non-number return code', 4, 'connack', { returnCode: 'x' }],
  ['connack: no return code', 4, 'connack', {}],
  ['connack: v5 no reason code', 5, 'connack', { returnCode: 0 }],
  [
    'connack: v5 receiveMaximum > 65535',
    5,
    'connack',
    { reasonCode: 0, properties: { receiveMaximum: 1e6 } },
  ],
  ['connack: v5 unknown property', 5, 'connack', { reasonCode: 0, properties: { colour: 'blue' } }],
  [
    'connack: v5 byte property not a boolean',
    5,
    'connack',
    { reasonCode: 0, properties: { retainAvailable: 1 } },
  ],
  ['connack: v5 maximumQoS > 255', 5, 'connack', { reasonCode: 0, properties: { maximumQoS: 256 } }],
  ['publish: non-string topic', 4, 'publish', { topic: 42 }],
  ['publish: no topic', 4, 'publish', { payload: 'x' }],
  ['publish: QoS 1 without messageId', 4, 'publish', { topic: 'a', qos: 1 }],
  ['publish: QoS 2 with a string messageId', 4, 'publish', { topic: 'a', qos: 2, messageId: '1' }],
  ['publish: v5 topicAlias a string', 5, 'publish', { topic: 'a', properties: { topicAlias: 'x' } }],
  [
    'publish: v5 subscriptionIdentifier beyond a variable byte integer',
    5,
    'publish',
    { topic: 'a', properties: { subscriptionIdentifier: 0x10000000 } },
  ],
  [
    'publish: v5 userProperties not an object',
    5,
    'publish',
    { topic: 'a', properties: { userProperties: 'x' } },
  ],
  ['puback: no messageId', 4, 'puback', {}],
  ['pubrec: string messageId', 4, 'pubrec', { messageId: '1' }],
  ['pubrel: no messageId', 4, 'pubrel', {}],
  ['pubcomp: no messageId', 5, 'pubcomp', { reasonCode: 0 }],
  [
    'puback: v5 reasonString a number',
    5,
    'puback',
    { messageId: 1, reasonCode: 0x80, properties: { reasonString: 42 } },
  ],
  ['subscribe: no messageId', 4, 'subscribe', { subscriptions: [{ topic: 'a', qos: 0 }] }],
  ['subscribe: subscriptions not an array', 4, 'subscribe', { messageId: 1, subscriptions: 'x' }],
  ['subscribe: empty subscriptions', 4, 'subscribe', { messageId: 1, subscriptions: [] }],
  ['subscribe: non-string filter', 4, 'subscribe', { messageId: 1, subscriptions: [{ topic: 42, qos: 0 }] }],
  ['subscribe: no qos', 4, 'subscribe', { messageId: 1, subscriptions: [{ topic: 'a' }] }],
  [
    'subscribe: v5 No Local not a boolean',
    5,
    'subscribe',
    { messageId: 1, subscriptions: [{ topic: 'a', qos: 0, nl: 1 }] },
  ],
  [
    'subscribe: v5 Retain as Published not a boolean',
    5,
    'subscribe',
    { messageId: 1, subscriptions: [{ topic: 'a', qos: 0, rap: 'yes' }] },
  ],
  [
    'subscribe: v5 Retain Handling 3',
    5,
    'subscribe',
    { messageId: 1, subscriptions: [{ topic: 'a', qos: 0, rh: 3 }] },
  ],
  [
    'subscribe: v5 subscriptionIdentifier a string',
    5,
    'subscribe',
    { messageId: 1, subscriptions: [{ topic: 'a', qos: 0 }], properties: { subscriptionIdentifier: 'x' } },
  ],
  ['suback: no messageId', 4, 'suback', { granted: [0] }],
  ['suback: granted not an array', 4, 'suback', { messageId: 1, granted: 'x' }],
  ['suback: empty granted', 4, 'suback', { messageId: 1, granted: [] }],
  ['suback: non-number granted', 4, 'suback', { messageId: 1, granted: ['0'] }],
  ['unsubscribe: no messageId', 4, 'unsubscribe', { unsubscriptions: ['a'] }],
  ['unsubscribe: unsubscriptions not an array', 4, 'unsubscribe', { messageId: 1, unsubscriptions: 'x' }],
  ['unsubscribe: empty unsubscriptions', 4, 'unsubscribe', { messageId: 1, unsubscriptions: [] }],
  ['unsubscribe: non-string filter', 4, 'unsubscribe', { messageId: 1, unsubscriptions: [42] }],
  ['unsuback: no messageId', 4, 'unsuback', {}],
  ['unsuback: v5 granted missing', 5, 'unsuback', { messageId: 1 }],
  ['unsuback: v5 non-number granted', 5, 'unsuback', { messageId: 1, granted: ['x'] }],
  [
    'disconnect: v5 sessionExpiryInterval a string',
    5,
    'disconnect',
    { reasonCode: 0, properties: { sessionExpiryInterval: 'x' } },
  ],
  [
    'auth: v5 authenticationMethod a number',
    5,
    'auth',
    { reasonCode: 0x18, properties: { authenticationMethod: 42 } },
  ],
]

interface Outcome {
  /** 'error: <message>', 'returned' (the send call returned) and 'callback', in the order they happened. */
  events: string[]
  /** Every byte the peer read until the connection closed. */
  wire: number[]
  /** The error objects emitted. */
  errors: Error[]
  /** What the callback was called with. */
  callbackArgs: unknown[]
}

let server: Server
let port: number
const accepted: Socket[] = []

before(async () => {
  server = createServer((s) => accepted.push(s))
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  port = (server.address() as { port: number }).port
})
after(() => server.close())

/** A fresh TCP connection: our end (wrapped by the Connection under test) and the peer's. */
async function tcpPair(): Promise<[Socket, Socket]> {
  const n = accepted.length
  const ours = tcpConnect(port, '127.0.0.1')
  await once(ours, 'connect')
  while (accepted.length === n) await new Promise((r) => setImmediate(r))
  return [ours, accepted[n]!]
}

async function run(
  make: (s: Duplex, o: object) => AnyConnection,
  version: 4 | 5,
  cmd: PacketCmd,
  opts: object,
): Promise<Outcome> {
  const [ours, peer] = await tcpPair()
  const wire: number[] = []
  peer.on('data', (d: Buffer) => wire.push(...d))
  const peerEnded = once(peer, 'end')
  const conn = make(ours, { protocolVersion: version })
  const out: Outcome = { events: [], wire, errors: [], callbackArgs: [] }
  conn.on('error', (err: Error) => {
    out.events.push(`error: ${err.message}`)
    out.errors.push(err)
  })
  try {
    await new Promise<void>((resolve) => {
      // mqtt-connection sets `cmd` on the object it is given: each side gets its own copy
      ;(conn[cmd] as SendFn).call(conn, structuredClone(opts), (...args: unknown[]) => {
        out.events.push('callback')
        out.callbackArgs = args
        resolve()
      })
      // where the call returns in the sequence: mqtt-connection emits 'error' inside it
      out.events.push('returned')
    })
    await new Promise((r) => setImmediate(r))
    ours.end()
    await peerEnded
  } finally {
    ours.destroy()
    peer.destroy()
  }
  return out
}

const legacy = (s: Duplex, o: object) => LegacyConnection(s, o)
const mqttd = (s: Duplex, o: object) => Connection(s, o) as unknown as AnyConnection

describe('mqttd/connection gives the errors mqtt-connection 4.1.0 gives', () => {
  for (const [name, version, cmd, opts] of cases) {
    it(name, async () => {
      const theirs = await run(legacy, version, cmd, opts)
      const ours = await run(mqttd, version, cmd, opts)
      assert.equal(theirs.errors.length, 1, `mqtt-connection rejects it: ${theirs.events}`)
      // synchronous: 'error' is emitted before the send call returns, the callback comes after
      assert.deepEqual(theirs.events, [`error: ${theirs.errors[0]!.message}`, 'returned', 'callback'])
      assert.deepEqual(ours.events, theirs.events)
      assert.deepEqual(ours.wire, theirs.wire)
      // the extras ride on the error object; the message is mqtt-packet's, unchanged
      const err = ours.errors[0] as MqttdError & { cmd?: unknown }
      assert.ok(err instanceof MqttdError)
      assert.equal(err.code, 'MQTTD_ERR_INVALID_PACKET')
      assert.equal(err.cmd, cmd)
      assert.ok(err.cause instanceof Error)
      assert.equal(err.cause.message, err.message)
      // documented difference: mqtt-connection calls back with nothing, mqttd with the error
      assert.deepEqual(theirs.callbackArgs, [])
      assert.deepEqual(ours.callbackArgs, [err])
    })
  }

  it('AUTH on MQTT 3.1.1: the same message, but no malformed AUTH on the wire (mqtt-connection writes one)', async () => {
    const theirs = await run(legacy, 4, 'auth', { reasonCode: 0 })
    const ours = await run(mqttd, 4, 'auth', { reasonCode: 0 })
    assert.deepEqual(theirs.events, ['error: Invalid mqtt version for auth packet', 'returned', 'callback'])
    assert.deepEqual(ours.events, theirs.events)
    // remaining length 1 followed by 2 bytes: not a packet a peer can parse
    assert.deepEqual(theirs.wire, [0xf0, 1, 0, 0])
    assert.deepEqual(ours.wire, [])
  })

  it('a messageId above 65535: mqtt-connection throws out of publish(), mqttd emits the coded error', async () => {
    const opts = { topic: 'a', qos: 1, messageId: 65_536 }
    await assert.rejects(run(legacy, 4, 'publish', opts), { code: 'ERR_INVALID_ARG_TYPE' })
    const ours = await run(mqttd, 4, 'publish', opts)
    assert.equal(ours.errors.length, 1)
    assert.equal((ours.errors[0] as MqttdError).code, 'MQTTD_ERR_INVALID_PACKET')
    assert.deepEqual(ours.events, [`error: ${ours.errors[0]!.message}`, 'returned', 'callback'])
    assert.deepEqual(ours.wire, [])
  })

  it('an unknown cmd written to the writable side gives "Unknown command" as in mqtt-connection', async () => {
    const messages: string[] = []
    for (const make of [legacy, mqttd]) {
      const [ours, peer] = await tcpPair()
      const conn = make(ours, {}) as AnyConnection & { write(p: object, cb: (e?: Error) => void): void }
      const emitted = new Promise<string>((r) => conn.once('error', (e: Error) => r(e.message)))
      conn.write({ cmd: 'bogus' }, () => {})
      messages.push(await emitted)
      ours.destroy()
      peer.destroy()
    }
    assert.deepEqual(messages, ['Unknown command', 'Unknown command'])
  })

  it('generateStream fails with the message mqtt-connection emits', async () => {
    for (const [, version, cmd, opts] of cases) {
      const packet = { ...opts, cmd }
      const theirs = LegacyConnection.generateStream({ protocolVersion: version })
      const theirError = new Promise<string>((r) => theirs.once('error', (e: Error) => r(e.message)))
      theirs.write(structuredClone(packet))
      const ours = generateStream({ protocolVersion: version })
      const ourError = new Promise<Error>((r) => ours.once('error', r))
      ours.write(structuredClone(packet))
      const err = (await ourError) as MqttdError & { cmd?: unknown }
      assert.equal(err.message, await theirError, `${cmd} ${JSON.stringify(opts)}`)
      assert.equal(err.code, 'MQTTD_ERR_INVALID_PACKET')
      assert.equal(err.cmd, cmd)
    }
  })
})
