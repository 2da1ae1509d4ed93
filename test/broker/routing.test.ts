import assert from 'node:assert/strict'
import { test } from 'node:test'
import { connectClient, connectOn, startBroker } from './helpers.ts'

for (const protocolVersion of [4, 5] as const) {
  const v = protocolVersion === 4 ? 'v3.1.1' : 'v5'
  test(`${v}: publisher and subscriber on different workers, QoS 0/1/2 delivered at min(pub, sub) QoS`, async (t) => {
    const server = await startBroker(t)
    const sub = await connectClient(t, server, { protocolVersion, clientId: 'sub' })
    const pub = await connectOn(t, server, (w) => w !== sub.worker, { protocolVersion, clientId: 'pub' })
    assert.notEqual(pub.worker, sub.worker)
    await sub.client.subscribeAsync('a/+', { qos: 1 })
    await sub.client.subscribeAsync('b/#', { qos: 2 })
    await pub.client.publishAsync('a/1', 'q0', { qos: 0 })
    await pub.client.publishAsync('a/1', 'q2-to-1', { qos: 2 })
    await pub.client.publishAsync('b/x/y', 'q1', { qos: 1 })
    await pub.client.publishAsync('b/x/y', 'q2', { qos: 2 })
    const got = await sub.inbox.waitFor(4)
    assert.deepEqual(
      got.map((p) => [p.topic, String(p.payload), p.qos, p.retain]),
      [
        ['a/1', 'q0', 0, false],
        ['a/1', 'q2-to-1', 1, false],
        ['b/x/y', 'q1', 1, false],
        ['b/x/y', 'q2', 2, false],
      ],
    )
  })
}

test('transports are one broker: a WebSocket subscriber gets what a TCP client on another worker publishes, and back', async (t) => {
  const server = await startBroker(t, { listeners: ['tcp', 'ws'] })
  const ws = await connectClient(t, server, { protocolVersion: 5, clientId: 'ws-sub' }, 'ws')
  const tcp = await connectOn(t, server, (w) => w !== ws.worker, { protocolVersion: 4, clientId: 'tcp-pub' })
  await ws.client.subscribeAsync('x/#', { qos: 1 })
  await tcp.client.subscribeAsync('y/#', { qos: 1 })
  await tcp.client.publishAsync('x/1', 'over-tcp', { qos: 1 })
  await ws.client.publishAsync('y/1', 'over-ws', { qos: 1 })
  const [a] = await ws.inbox.waitFor(1)
  const [b] = await tcp.inbox.waitFor(1)
  assert.equal(String(a!.payload), 'over-tcp')
  assert.equal(String(b!.payload), 'over-ws')
})
