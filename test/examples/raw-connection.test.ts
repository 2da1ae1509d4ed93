import assert from 'node:assert/strict'
import { connect as netConnect } from 'node:net'
import { after, before, test } from 'node:test'
import mqtt from 'mqtt'
import mqttPacket, { type Packet } from 'mqtt-packet'
import { type ExampleServer, example, startExampleServer } from './example-server.ts'

let server: ExampleServer
before(async () => {
  server = await startExampleServer({ broker: false, handlers: [example('raw-connection.ts')] })
})
after(() => server?.close())

test("mqtt-connection's README style inside mqttd: events and client.publish loop messages back", async () => {
  const client = await mqtt.connectAsync(server.mqttUrl, { reconnectPeriod: 0 })
  try {
    await client.subscribeAsync('echo/#')
    const got = new Promise<[string, string]>((r) => client.once('message', (t, p) => r([t, p.toString()])))
    await client.publishAsync('echo/1', 'ping', { qos: 1 })
    assert.deepEqual(await got, ['echo/1', 'ping'])
  } finally {
    await client.endAsync()
  }
})

test('each packet is answered once: the framework acknowledges, the raw listeners do not', async () => {
  const socket = netConnect(Number(new URL(server.mqttUrl).port), '127.0.0.1')
  const received: Packet[] = []
  const parser = mqttPacket.parser({ protocolVersion: 4 })
  parser.on('packet', (p) => received.push(p))
  socket.on('data', (b: Buffer) => parser.parse(b))
  const send = (p: Record<string, unknown>) => socket.write(mqttPacket.generate(p as unknown as Packet))
  const waitFor = async (cmds: string[]) => {
    const deadline = Date.now() + 5000
    while (!cmds.every((c) => received.some((p) => p.cmd === c))) {
      assert.ok(Date.now() < deadline, `waiting for ${cmds}; got ${received.map((p) => p.cmd)}`)
      await new Promise((r) => setTimeout(r, 10))
    }
  }
  await new Promise((r) => socket.once('connect', r))
  send({
    cmd: 'connect',
    protocolId: 'MQTT',
    protocolVersion: 4,
    clean: true,
    clientId: 'raw',
    keepalive: 30,
  })
  send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'a/#', qos: 1 }] })
  send({
    cmd: 'publish',
    topic: 'a/b',
    payload: Buffer.from('x'),
    qos: 1,
    messageId: 2,
    retain: false,
    dup: false,
  })
  send({ cmd: 'pingreq' })
  await waitFor(['connack', 'suback', 'puback', 'publish', 'pingresp'])
  // Let any duplicate arrive before counting.
  await new Promise((r) => setTimeout(r, 100))
  const counts = Object.groupBy(received, (p) => p.cmd)
  for (const cmd of ['connack', 'suback', 'puback', 'publish', 'pingresp'] as const) {
    assert.equal(counts[cmd]?.length, 1, `one ${cmd}`)
  }
  send({ cmd: 'disconnect' })
  await new Promise((r) => socket.once('close', r))
})
