import assert from 'node:assert/strict'
import { test } from 'node:test'
import mqtt from 'mqtt'
import { startTestServer } from '../helpers/server.ts'

for (const protocolVersion of [4, 5] as const) {
  test(`mqtt.js v${protocolVersion === 4 ? '3.1.1' : '5'} over TCP: CONNACK, SUBACK and PUBACK from the framework defaults`, async (t) => {
    const server = await startTestServer(t, { workers: 2 })
    const client = await mqtt.connectAsync(server.url('tcp'), { protocolVersion, reconnectPeriod: 0 })
    t.after(() => client.endAsync())
    const received: string[] = []
    client.on('packetreceive', (packet) => received.push(packet.cmd))
    const granted = await client.subscribeAsync('a/b', { qos: 1 })
    assert.deepEqual(
      granted.map((g) => g.qos),
      [1],
    )
    await client.publishAsync('a/b', 'hello', { qos: 1 })
    await client.publishAsync('a/b', 'hello', { qos: 2 })
    assert.deepEqual(received, ['suback', 'puback', 'pubrec', 'pubcomp'])
  })
}
