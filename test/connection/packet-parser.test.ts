// mqttd builds on mqtt-packet internals in exactly one file, src/connection/packet-parser.ts.
// package.json pins mqtt-packet to the 9.0.x whose internals were checked; these tests fail,
// naming what moved, if an upgrade changes any of them.
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { test } from 'node:test'
import mqttPacket from 'mqtt-packet'
import constants from 'mqtt-packet/constants.js'
import Parser from 'mqtt-packet/parser.js'
import { PacketParser } from '../../src/connection/packet-parser.ts'

const require = createRequire(import.meta.url)

test('mqtt-packet is pinned to the checked minor version (~9.0) and the installed one is in it', () => {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8'))
  assert.equal(
    pkg.dependencies['mqtt-packet'],
    '~9.0.2',
    'widen the pin only after checking the internals below',
  )
  const installed: string = require('mqtt-packet/package.json').version
  assert.match(installed, /^9\.0\.\d+$/, `mqtt-packet ${installed} is outside the checked 9.0.x`)
})

test('the parser internals packet-parser.ts overrides or reads are still there', () => {
  assert.equal(
    typeof (Parser as unknown as { parser?: unknown }).parser,
    'function',
    'static Parser.parser is gone',
  )
  for (const method of [
    '_parseHeader',
    '_parseLength',
    '_parseConnect',
    '_parseDisconnect',
    '_parseAuth',
    '_parseString',
    '_parseProperties',
    '_parseSubscribe',
    '_parseUnsubscribe',
    '_emitError',
    'parse',
    '_newPacket',
    '_resetState',
    '_parsePayload',
    '_parseConnack',
    '_parsePublish',
    '_parseConfirmation',
    '_parseSuback',
    '_parseUnsuback',
    '_parseNum',
    '_parseBuffer',
    '_parseVarByteNum',
  ]) {
    assert.equal(
      typeof (Parser.prototype as unknown as Record<string, unknown>)[method],
      'function',
      `mqtt-packet's Parser.prototype.${method} is gone`,
    )
  }
  const parser = new Parser()
  parser.parser({ protocolVersion: 4 })
  assert.equal(parser._stateCounter, 0, '_stateCounter starts at 0 (header)')
  assert.deepEqual(
    parser._states,
    ['_parseHeader', '_parseLength', '_parsePayload', '_newPacket'],
    "the parse steps PacketParser's parse() loop walks",
  )
  assert.equal(parser._list.length, 0, '_list is the buffered bytes')
  // PacketParser reads the first of bl's buffers directly: it must start at the list's offset 0
  parser._list.append(Buffer.from([1, 2, 3]))
  parser._list.append(Buffer.from([4, 5]))
  parser._list.consume(1)
  assert.deepEqual([...parser._list._bufs[0]!], [2, 3], "bl's consume trims its first buffer")
  assert.deepEqual(parser.settings, { protocolVersion: 4 })
  // PacketParser's _parseHeader reads the fixed header with mqtt-packet's own tables
  assert.equal(constants.types[3], 'publish')
  assert.equal(constants.requiredHeaderFlags[8], 2, 'SUBSCRIBE requires flags 0b0010')
  assert.equal(typeof constants.requiredHeaderFlagsErrors[8], 'string')
  assert.deepEqual(
    [constants.CMD_SHIFT, constants.RETAIN_MASK, constants.QOS_SHIFT, constants.QOS_MASK, constants.DUP_MASK],
    [4, 1, 1, 3, 8],
  )
})

test('PacketParser reads a fixed header as mqtt-packet does: type, flags, and the same errors', () => {
  // every first byte through both header steps alone: the same packet fields, result and error
  const headerOf = (parser: Parser, zero: number) => {
    const errors: string[] = []
    parser.on('error', (e: Error) => errors.push(e.message))
    parser._list.append(Buffer.from([zero]))
    const result = parser._parseHeader()
    const { cmd, retain, qos, dup } = parser.packet
    return { result: result === true, errors, cmd, retain, qos, dup, left: parser._list.length }
  }
  for (let zero = 0; zero < 256; zero++) {
    const theirs = new Parser()
    theirs.parser({ protocolVersion: 5 })
    assert.deepEqual(
      headerOf(new PacketParser({ protocolVersion: 5 }), zero),
      headerOf(theirs, zero),
      `first byte 0x${zero.toString(16)}`,
    )
  }
})

test('_stateCounter is 2 inside a body and _list holds what arrived of it: missingBodyBytes and idle rely on it', () => {
  const bytes = mqttPacket.generate({
    cmd: 'publish',
    topic: 'a/b',
    payload: Buffer.from('0123456789'),
    qos: 0,
    retain: false,
    dup: false,
  })
  const parser = new PacketParser({ protocolVersion: 4 })
  const packets: unknown[] = []
  parser.on('packet', (p) => packets.push(p))
  assert.equal(parser.idle, true)
  assert.equal(parser.missingBodyBytes, undefined)
  const body = bytes.length - 2
  parser.parse(bytes.subarray(0, 2 + 4)) // fixed header and 4 body bytes
  assert.equal(parser._stateCounter, 2)
  assert.equal(parser.packet.length, body)
  assert.equal(parser.missingBodyBytes, body - 4)
  assert.equal(parser.idle, false)
  parser.parse(bytes.subarray(6))
  assert.equal(packets.length, 1)
  assert.equal(parser.idle, true)
  assert.equal(parser.missingBodyBytes, undefined)
})

test("PacketParser's parse loop (mqtt-packet's without its debug calls) emits what mqtt-packet's does, for any chunking", () => {
  const stream = Buffer.concat([
    mqttPacket.generate({
      cmd: 'connect',
      protocolId: 'MQTT',
      protocolVersion: 4,
      clean: true,
      clientId: 'c1',
      keepalive: 30,
    }),
    mqttPacket.generate({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'a/+', qos: 1 }] }),
    mqttPacket.generate({
      cmd: 'publish',
      topic: 'a/b',
      payload: Buffer.from('x'.repeat(300)),
      qos: 1,
      messageId: 2,
      retain: false,
      dup: false,
    }),
    mqttPacket.generate({ cmd: 'pingreq' }),
    mqttPacket.generate({ cmd: 'puback', messageId: 7 }),
    mqttPacket.generate({ cmd: 'disconnect' }),
  ])
  const run = (parser: Parser, chunk: number) => {
    const packets: unknown[] = []
    const left: number[] = []
    parser.on('packet', (p) => packets.push({ ...p }))
    parser.on('error', (err: Error) => packets.push(err.message))
    for (let i = 0; i < stream.length; i += chunk) left.push(parser.parse(stream.subarray(i, i + chunk)))
    return { packets, left }
  }
  for (const chunk of [1, 2, 3, 7, 64, stream.length]) {
    const theirs = new Parser()
    theirs.parser({ protocolVersion: 4 })
    assert.deepEqual(
      run(new PacketParser({ protocolVersion: 4 }), chunk),
      run(theirs, chunk),
      `chunks of ${chunk}`,
    )
  }
})

test('PacketParser emits what mqtt-packet does for 3.1.1 and 5 streams with wills, credentials, properties and long bodies, for any chunking', () => {
  const v5 = (packet: Record<string, unknown>) => mqttPacket.generate(packet as never, { protocolVersion: 5 })
  const streams: Array<[number, Buffer]> = [
    [
      4,
      Buffer.concat([
        mqttPacket.generate({
          cmd: 'connect',
          protocolId: 'MQTT',
          protocolVersion: 4,
          clean: false,
          clientId: 'with-will',
          keepalive: 65535,
          username: 'üser',
          password: Buffer.from([0, 1, 2, 255]),
          will: { topic: 'w/t', payload: Buffer.from('bye'), qos: 1, retain: true },
        }),
        mqttPacket.generate({ cmd: 'unsubscribe', messageId: 65535, unsubscriptions: ['a/#', 'b'] }),
        mqttPacket.generate({
          cmd: 'publish',
          topic: 'big',
          payload: Buffer.alloc(20_000, 7),
          qos: 2,
          messageId: 3,
          retain: true,
          dup: true,
        }),
        mqttPacket.generate({ cmd: 'pubrel', messageId: 3 }),
        mqttPacket.generate({ cmd: 'connack', returnCode: 0, sessionPresent: true }),
        mqttPacket.generate({ cmd: 'suback', messageId: 9, granted: [0, 1, 128] }),
      ]),
    ],
    [
      5,
      Buffer.concat([
        v5({
          cmd: 'connect',
          protocolId: 'MQTT',
          protocolVersion: 5,
          clean: true,
          clientId: 'v5',
          keepalive: 10,
          username: 'u',
          password: Buffer.from('p'),
          properties: { sessionExpiryInterval: 300, receiveMaximum: 20, userProperties: { a: 'b' } },
          will: {
            topic: 'w',
            payload: Buffer.from('x'),
            qos: 2,
            retain: false,
            properties: { willDelayInterval: 5, contentType: 'text/plain' },
          },
        }),
        v5({
          cmd: 'subscribe',
          messageId: 4,
          subscriptions: [{ topic: 's/+', qos: 2, nl: true, rap: true, rh: 1 }],
          properties: { subscriptionIdentifier: 200_000 },
        }),
        v5({
          cmd: 'publish',
          topic: 't',
          payload: Buffer.alloc(200_000, 1),
          qos: 1,
          messageId: 5,
          retain: false,
          dup: false,
          properties: { messageExpiryInterval: 60, topicAlias: 3, correlationData: Buffer.from('c') },
        }),
        v5({ cmd: 'puback', messageId: 5, reasonCode: 16, properties: { reasonString: 'none' } }),
        v5({ cmd: 'auth', reasonCode: 0x18, properties: { authenticationMethod: 'm' } }),
        v5({ cmd: 'disconnect', reasonCode: 4, properties: { sessionExpiryInterval: 0 } }),
      ]),
    ],
  ]
  for (const [protocolVersion, stream] of streams) {
    const run = (parser: Parser, chunk: number) => {
      const packets: unknown[] = []
      parser.on('packet', (p) => packets.push({ ...p }))
      parser.on('error', (err: Error) => packets.push(err.message))
      for (let i = 0; i < stream.length; i += chunk) parser.parse(stream.subarray(i, i + chunk))
      return packets
    }
    for (const chunk of [1, 3, 5, 100, 4096, stream.length]) {
      const theirs = new Parser()
      theirs.parser({ protocolVersion })
      const ours = run(new PacketParser({ protocolVersion }), chunk)
      assert.deepEqual(ours, run(theirs, chunk), `v${protocolVersion}, chunks of ${chunk}`)
      assert.equal(ours.length, 6, `v${protocolVersion}: six packets, no error`)
    }
  }
})

test('a remaining length of five bytes is malformed: PacketParser fails as mqtt-packet does (Invalid variable byte integer), for any chunking', () => {
  const stream = Buffer.from([0x30, 0xff, 0xff, 0xff, 0xff, 0x01, 0x00])
  for (const chunk of [1, 2, stream.length]) {
    const errors = (parser: Parser) => {
      const out: string[] = []
      parser.on('error', (err: Error) => out.push(err.message))
      parser.on('packet', () => out.push('packet'))
      for (let i = 0; i < stream.length; i += chunk) parser.parse(stream.subarray(i, i + chunk))
      return out
    }
    const theirs = new Parser()
    theirs.parser({ protocolVersion: 4 })
    const ours = errors(new PacketParser({ protocolVersion: 4 }))
    assert.deepEqual(ours, errors(theirs), `chunks of ${chunk}`)
    assert.equal(ours[0], 'Invalid variable byte integer', `chunks of ${chunk}`)
  }
})
