/**
 * The `$SYS/broker/...` tree: mosquitto's names, values merged across workers,
 * one publisher for the server, read by real clients (mqtt.js, mosquitto_sub).
 */
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { test } from 'node:test'
import { promisify } from 'node:util'
import { sysTree } from '../../src/broker/sys-tree.ts'
import type { MetricJSON } from '../../src/metrics/snapshot.ts'
import { startTestServer } from '../helpers/server.ts'
import { connectClient } from './helpers.ts'

const run = promisify(execFile)

function metric(name: string, type: string, values: [Record<string, string>, number][]): MetricJSON {
  return {
    name,
    help: '',
    type,
    aggregator: 'sum',
    values: values.map(([labels, value]) => ({ labels, value })),
  }
}

test('sysTree: mosquitto topic names and payloads from merged metrics', () => {
  const merged = [
    metric('mqttd_broker_sessions', 'gauge', [
      [{ state: 'online' }, 3],
      [{ state: 'offline' }, 2],
    ]),
    metric('mqttd_packets_received_total', 'counter', [
      [{ type: 'connect' }, 3],
      [{ type: 'publish' }, 10],
    ]),
    metric('mqttd_messages_received_total', 'counter', [
      [{ qos: '0' }, 4],
      [{ qos: '1' }, 6],
    ]),
    metric('mqttd_bytes_sent_total', 'counter', [[{}, 1234]]),
    metric('mqttd_broker_subscriptions', 'gauge', [[{}, 7]]),
    metric('mqttd_broker_retained_messages', 'gauge', [[{}, 5]]),
    metric('mqttd_broker_queued_messages', 'gauge', [[{}, 1]]),
  ]
  const tree = sysTree(merged, { version: '1.2.3', uptimeSeconds: 61.7, maximumConnected: 9 })
  assert.equal(tree.get('$SYS/broker/version'), 'mqttd version 1.2.3')
  assert.equal(tree.get('$SYS/broker/uptime'), '61 seconds')
  assert.equal(tree.get('$SYS/broker/clients/connected'), '3')
  assert.equal(tree.get('$SYS/broker/clients/disconnected'), '2')
  assert.equal(tree.get('$SYS/broker/clients/total'), '5')
  assert.equal(tree.get('$SYS/broker/clients/maximum'), '9')
  assert.equal(tree.get('$SYS/broker/messages/received'), '13')
  assert.equal(tree.get('$SYS/broker/publish/messages/received'), '10')
  assert.equal(tree.get('$SYS/broker/bytes/sent'), '1234')
  assert.equal(tree.get('$SYS/broker/bytes/received'), '0')
  assert.equal(tree.get('$SYS/broker/subscriptions/count'), '7')
  assert.equal(tree.get('$SYS/broker/retained messages/count'), '5')
  assert.equal(tree.get('$SYS/broker/store/messages/count'), '6')
})

test('$SYS/broker/clients/connected read by mqtt.js matches the admin API connection count, across 2 workers', async (t) => {
  const server = await startTestServer(t, {
    workers: 2,
    admin: true,
    broker: { sysInterval: 1 },
    handlers: ['./broker/fixtures/worker-id.ts'],
  })
  const reader = await connectClient(t, server, { protocolVersion: 5, clientId: 'reader' })
  await reader.client.subscribeAsync('$SYS/broker/#', { qos: 0 })
  const others = [
    await connectClient(t, server, { protocolVersion: 4, clientId: 'a' }),
    await connectClient(t, server, { protocolVersion: 5, clientId: 'b' }),
  ]
  assert.notEqual(others[0]!.worker, others[1]!.worker, 'the clients are spread over both workers')
  const connected = (p: { topic: string; payload: Buffer | string }) =>
    p.topic === '$SYS/broker/clients/connected' && String(p.payload) === '3'
  await reader.inbox.waitFor(1, 20_000, connected)
  const res = await fetch(`http://127.0.0.1:${server.admin!.port}/connections`)
  const { items } = (await res.json()) as { items: { clientId: string }[] }
  assert.equal(items.length, 3)
  const workers = (await (await fetch(`http://127.0.0.1:${server.admin!.port}/workers`)).json()) as {
    workers: { connections: number }[]
  }
  assert.equal(
    workers.workers.reduce((n, w) => n + w.connections, 0),
    3,
  )
  const seen = new Map(reader.inbox.packets.map((p) => [p.topic, String(p.payload)]))
  assert.match(seen.get('$SYS/broker/version') ?? '', /^mqttd version \d+\.\d+\.\d+/)
  assert.match(seen.get('$SYS/broker/uptime') ?? '', /^\d+ seconds$/)
  for (const topic of [
    '$SYS/broker/subscriptions/count',
    '$SYS/broker/bytes/received',
    '$SYS/broker/messages/sent',
  ])
    assert.match(seen.get(topic) ?? '', /^\d+$/, topic)

  // one publisher for the server: each update reaches the reader once, whichever worker it is on (live
  // messages only: the retained copy sent on SUBSCRIBE may repeat a value that was just published)
  const live = (p: { topic: string; retain: boolean }) => p.topic === '$SYS/broker/uptime' && !p.retain
  const uptimes = () => reader.inbox.packets.filter(live).map((p) => String(p.payload))
  await reader.inbox.waitFor(uptimes().length + 2, 20_000, live)
  const list = uptimes()
  assert.equal(new Set(list).size, list.length, `every uptime value once: ${list}`)

  // a client leaving is seen in the next update
  const two = (p: { topic: string; payload: Buffer | string }) =>
    p.topic === '$SYS/broker/clients/connected' && String(p.payload) === '2'
  const seenBefore = reader.inbox.packets.filter(two).length
  await others[0]!.client.endAsync()
  await reader.inbox.waitFor(seenBefore + 1, 20_000, two)
})

test('mosquitto_sub reads the retained $SYS tree (v3.1.1 and v5)', async (t) => {
  try {
    await run('mosquitto_sub', ['--help'])
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return t.skip('mosquitto-clients not installed')
  }
  const server = await startTestServer(t, { workers: 2, broker: { sysInterval: 1 } })
  const port = String(server.port())
  for (const version of ['mqttv311', 'mqttv5']) {
    // -W: give up after 10 s; the first update is published as soon as the server is ready
    const { stdout } = await run('mosquitto_sub', [
      '-p',
      port,
      '-V',
      version,
      '-t',
      '$SYS/broker/version',
      '-t',
      '$SYS/broker/clients/total',
      '-C',
      '2',
      '-W',
      '10',
      '-v',
    ])
    assert.match(stdout, /^\$SYS\/broker\/version mqttd version /m)
    assert.match(stdout, /^\$SYS\/broker\/clients\/total \d+$/m)
  }
})
