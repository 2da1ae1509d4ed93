import assert from 'node:assert/strict'
import { connect as netConnect, type Socket } from 'node:net'
import { after, before, test } from 'node:test'
import mqtt from 'mqtt'
import mqttPacket, { type Packet } from 'mqtt-packet'
import { type ExampleServer, example, startExampleServer } from './example-server.ts'

let server: ExampleServer
before(async () => {
  server = await startExampleServer({ broker: false, handlers: [example('raw-connection.ts')] })
})
after(() => server?.close())

interface RawClient {
  socket: Socket
  received: Packet[]
  closed: Promise<void>
  send(packet: Record<string, unknown>): void
  waitFor(cmds: string[]): Promise<void>
}

async function rawClient(): Promise<RawClient> {
  const socket = netConnect(Number(new URL(server.mqttUrl).port), '127.0.0.1')
  const received: Packet[] = []
  const parser = mqttPacket.parser({ protocolVersion: 4 })
  parser.on('packet', (p) => received.push(p))
  socket.on('data', (b: Buffer) => parser.parse(b))
  socket.on('error', () => {})
  const closed = new Promise<void>((r) => socket.once('close', () => r()))
  await new Promise((r) => socket.once('connect', r))
  return {
    socket,
    received,
    closed,
    send: (p) => socket.write(mqttPacket.generate(p as unknown as Packet)),
    async waitFor(cmds) {
      const deadline = Date.now() + 5000
      while (!cmds.every((c) => received.some((p) => p.cmd === c))) {
        assert.ok(Date.now() < deadline, `waiting for ${cmds}; got ${received.map((p) => p.cmd)}`)
        await new Promise((r) => setTimeout(r, 10))
      }
    },
  }
}

const connect = (keepalive = 30) => ({
  cmd: 'connect',
  protocolId: 'MQTT',
  protocolVersion: 4,
  clean: true,
  clientId: 'raw',
  keepalive,
})

test("mqtt-connection's README server code runs unchanged inside mqttd with an mqtt.js client", async () => {
  const client = await mqtt.connectAsync(server.mqttUrl, { reconnectPeriod: 0, protocolVersion: 4 })
  try {
    const granted = await client.subscribeAsync('echo/#', { qos: 1 })
    assert.deepEqual(
      granted.map((g) => g.qos),
      [1],
    )
    await client.publishAsync('echo/1', 'ping', { qos: 1 }) // resolves on the PUBACK
  } finally {
    await client.endAsync()
  }
})

test('manualAcks: each packet is answered exactly once, by the handler (CONNACK, SUBACK, PUBACK, PINGRESP)', async () => {
  const raw = await rawClient()
  raw.send(connect())
  raw.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'a/#', qos: 1 }] })
  raw.send({
    cmd: 'publish',
    topic: 'a/b',
    payload: Buffer.from('x'),
    qos: 1,
    messageId: 2,
    retain: false,
    dup: false,
  })
  raw.send({ cmd: 'pingreq' })
  await raw.waitFor(['connack', 'suback', 'puback', 'pingresp'])
  // Let any duplicate arrive before counting.
  await new Promise((r) => setTimeout(r, 200))
  assert.deepEqual(
    raw.received.map((p) => p.cmd),
    ['connack', 'suback', 'puback', 'pingresp'],
  )
  const [connack, suback, puback] = raw.received as [
    mqttPacket.IConnackPacket,
    mqttPacket.ISubackPacket,
    mqttPacket.IPubackPacket,
  ]
  assert.equal(connack.returnCode, 0)
  assert.deepEqual([suback.messageId, suback.granted], [1, [1]])
  assert.equal(puback.messageId, 2)
  raw.send({ cmd: 'disconnect' })
  await raw.closed
})

test('manualAcks: the framework still enforces CONNECT first [3.1.1 MQTT-3.1.0-1] [5.0 MQTT-3.1.0-1]', async () => {
  const raw = await rawClient()
  raw.send({ cmd: 'pingreq' })
  // the handler's own listener answers at once; the framework then closes the connection
  const outcome = await Promise.race([
    raw.closed.then(() => 'closed'),
    new Promise((r) => setTimeout(r, 3000, 'still open')),
  ])
  assert.equal(outcome, 'closed')
  assert.ok(!raw.received.some((p) => p.cmd === 'connack'))
})

test('manualAcks: the framework still enforces keepalive (closed after 1.5 x 1 s of silence) [3.1.1 MQTT-3.1.2-24] [5.0 MQTT-3.1.2-22]', async () => {
  const raw = await rawClient()
  const started = Date.now()
  raw.send(connect(1))
  await raw.waitFor(['connack'])
  await raw.closed
  assert.ok(Date.now() - started >= 1400, `closed after ${Date.now() - started} ms`)
  assert.deepEqual(
    raw.received.map((p) => p.cmd),
    ['connack'],
  )
})
