import assert from 'node:assert/strict'
import { test } from 'node:test'
import mqtt from 'mqtt'
import { collectEvents } from '../helpers/events.ts'
import { startTestServer } from '../helpers/server.ts'
import { tlsFiles, tlsPem } from '../helpers/tls.ts'

const recorder = new URL('../fixtures/handlers/recorder.ts', import.meta.url).pathname

test('drain: shutdown hooks run, v5 clients on every transport get DISCONNECT 0x8B, 3.1.1 clients are closed, listeners stop', async (t) => {
  const events = collectEvents(t)
  const server = await startTestServer(t, {
    workers: 2,
    listeners: ['tcp', 'tls', 'ws', 'wss'],
    tls: { key: tlsFiles.key, cert: tlsFiles.cert },
    handlers: [{ module: recorder, options: { channel: events.channel } }],
  })
  const v5 = await Promise.all(
    (['tcp', 'tls', 'ws', 'wss'] as const).map((type) =>
      mqtt.connectAsync(server.url(type), {
        protocolVersion: 5,
        reconnectPeriod: 0,
        ca: tlsPem.ca,
        clientId: `v5-${type}`,
      }),
    ),
  )
  const v4 = await mqtt.connectAsync(server.url('tcp'), {
    protocolVersion: 4,
    reconnectPeriod: 0,
    clientId: 'v4',
  })
  t.after(() => Promise.all([...v5, v4].map((c) => c.endAsync(true))))
  const disconnects = v5.map(
    (client) =>
      new Promise<number | undefined>((resolve) => client.once('disconnect', (p) => resolve(p.reasonCode))),
  )
  const v4Closed = new Promise<void>((resolve) => v4.once('close', () => resolve()))

  await server.drain()
  assert.deepEqual(await Promise.all(disconnects), [0x8b, 0x8b, 0x8b, 0x8b])
  await v4Closed
  const shutdowns = await events.waitForCount((e) => e.event === 'shutdown', 2)
  assert.equal(new Set(shutdowns.map((e) => e.threadId)).size, 2, 'each worker ran the shutdown hook')
  const closes = await events.waitForCount((e) => e.event === 'close', 5)
  assert.ok(closes.every((e) => e.reason === 'server-shutdown'))
  // no new connections once draining
  const late = await mqtt
    .connectAsync(server.url('tcp'), { reconnectPeriod: 0, connectTimeout: 1000 })
    .then(() => 'connected')
    .catch(() => 'refused')
  assert.equal(late, 'refused')
})
