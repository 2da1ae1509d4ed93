// Connections share one mqtt-packet parser between packets (packet-reader.ts): these tests interleave
// connections whose packets are split across chunks, with different protocol versions, and a parse
// re-entered from a listener, and check every connection still gets exactly its own packets.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import mqttPacket from 'mqtt-packet'
import { Connection } from '../../src/connection/connection.ts'
import type { Packet } from '../../src/connection/types.ts'
import { RecordingStream, tick } from './helpers.ts'

function wire(packet: Record<string, unknown>, protocolVersion: number): Buffer {
  return mqttPacket.generate(packet as unknown as mqttPacket.Packet, { protocolVersion })
}

const connect = (clientId: string, protocolVersion: number) =>
  wire(
    { cmd: 'connect', protocolId: 'MQTT', protocolVersion, clean: true, clientId, keepalive: 0 },
    protocolVersion,
  )

// a v5 PUBLISH with properties takes mqtt-packet's path (the fast path takes none with properties)
const publish = (topic: string, payload: string, protocolVersion: number) =>
  wire(
    {
      cmd: 'publish',
      topic,
      payload: Buffer.from(payload),
      qos: 1,
      messageId: 7,
      retain: false,
      dup: false,
      ...(protocolVersion === 5 ? { properties: { userProperties: { k: 'v' } } } : {}),
    },
    protocolVersion,
  )

function open(): { stream: RecordingStream; connection: ReturnType<typeof Connection>; packets: Packet[] } {
  const stream = new RecordingStream()
  const connection = Connection(stream)
  const packets: Packet[] = []
  connection.on('data', (p) => packets.push(p))
  return { stream, connection, packets }
}

test('interleaved connections with split packets and different versions each get exactly their packets', async () => {
  const a = open()
  const b = open()
  await tick()
  const aConnect = connect('a', 5)
  const bConnect = connect('b', 4)
  const aPublish = publish('a/topic', 'from a', 5)
  const bPublish = publish('b/topic', 'from b', 4)
  // a: CONNECT and half a PUBLISH; b: a whole CONNECT; a: the rest; b: its PUBLISH split in three
  a.stream.feed(Buffer.concat([aConnect, aPublish.subarray(0, 5)]))
  b.stream.feed(bConnect)
  await tick()
  b.stream.feed(bPublish.subarray(0, 1))
  a.stream.feed(aPublish.subarray(5))
  await tick()
  b.stream.feed(bPublish.subarray(1, 4))
  await tick()
  b.stream.feed(bPublish.subarray(4))
  await tick()
  assert.deepEqual(
    a.packets.map((p) => [
      p.cmd,
      (p as { clientId?: string; topic?: string }).clientId ?? (p as { topic: string }).topic,
    ]),
    [
      ['connect', 'a'],
      ['publish', 'a/topic'],
    ],
  )
  assert.deepEqual(
    b.packets.map((p) => [
      p.cmd,
      (p as { clientId?: string; topic?: string }).clientId ?? (p as { topic: string }).topic,
    ]),
    [
      ['connect', 'b'],
      ['publish', 'b/topic'],
    ],
  )
  const aPub = a.packets[1] as { payload: Buffer; properties?: { userProperties?: unknown } }
  const bPub = b.packets[1] as { payload: Buffer; properties?: unknown }
  assert.equal(aPub.payload.toString(), 'from a')
  assert.equal(JSON.stringify(aPub.properties?.userProperties), '{"k":"v"}')
  assert.equal(bPub.payload.toString(), 'from b')
  assert.equal(bPub.properties, undefined)
  assert.equal(a.connection.protocolVersion, 5)
  assert.equal(b.connection.protocolVersion, 4)
})

test('a parse re-entered from a packet listener (another connection fed synchronously) keeps both streams apart', async () => {
  const a = open()
  const b = open()
  await tick()
  const bConnect = connect('b', 5)
  a.connection.on('connect', () => {
    // b's bytes arrive while a's parser is still inside parse()
    b.stream.emit('data', bConnect)
  })
  a.stream.feed(Buffer.concat([connect('a', 4), publish('a/x', '1', 4)]))
  await tick()
  assert.deepEqual(
    a.packets.map((p) => p.cmd),
    ['connect', 'publish'],
  )
  assert.deepEqual(
    b.packets.map((p) => [p.cmd, (p as { clientId?: string }).clientId]),
    [['connect', 'b']],
  )
  assert.equal(b.connection.protocolVersion, 5)
})

test('a parse error on one connection closes it and leaves the next connection parsing normally', async () => {
  const bad = open()
  const errors: Error[] = []
  bad.connection.on('error', (err) => errors.push(err))
  await tick()
  bad.stream.feed(Buffer.from([0x10, 0x03, 0x00, 0x01, 0x41])) // CONNECT with a truncated protocol name
  await tick()
  assert.equal(errors.length, 1)
  assert.equal(bad.connection.destroyed, true)
  const good = open()
  await tick()
  good.stream.feed(connect('good', 4))
  await tick()
  assert.deepEqual(
    good.packets.map((p) => p.cmd),
    ['connect'],
  )
})
