// mqttd builds on mqtt-packet internals in exactly one file, src/connection/packet-parser.ts.
// package.json pins mqtt-packet to the 9.0.x whose internals were checked; these tests fail,
// naming what moved, if an upgrade changes any of them.
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { test } from 'node:test'
import mqttPacket from 'mqtt-packet'
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
  assert.deepEqual(parser.settings, { protocolVersion: 4 })
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
