/**
 * The status page's JSON endpoints against the real pooled server, without a
 * browser: /status equals the metrics for known mqtt.js traffic,
 * /connections?search= pages through matching clients, /connections/recent
 * lists the newest first, /config is redacted.
 */
import assert from 'node:assert/strict'
import { type TestContext, test } from 'node:test'
import mqtt from 'mqtt'
import type { ConnectionInfo, StatusSummary } from '../../src/admin/types.ts'
import { parseExposition, sumOf } from '../helpers/prom-text.ts'
import { startTestServer } from '../helpers/server.ts'

const token = 'status-test-token'

async function harness(t: TestContext) {
  const server = await startTestServer(t, {
    workers: 2,
    listeners: ['tcp', 'ws'],
    broker: true,
    config: { admin: { enabled: true, host: '127.0.0.1', port: 0, token } },
  })
  const base = `http://127.0.0.1:${server.admin?.port}`
  const get = async <T>(path: string): Promise<T> => {
    const res = await fetch(`${base}${path}`, { headers: { authorization: `Bearer ${token}` } })
    assert.equal(res.status, 200, path)
    return (await res.json()) as T
  }
  return { server, base, get }
}

async function connect(t: TestContext, url: string, clientId: string) {
  const client = await mqtt.connectAsync(url, { clientId, protocolVersion: 5, reconnectPeriod: 0 })
  t.after(() => client.endAsync(true))
  return client
}

test('GET /status: totals, listeners and reasons equal the metrics for known traffic', async (t) => {
  const h = await harness(t)
  const sub = await connect(t, h.server.url('ws'), 'status-sub')
  const pub = await connect(t, h.server.url('tcp'), 'status-pub')
  await sub.subscribeAsync('s/#', { qos: 1 })
  const got = new Promise<void>((resolve) => {
    let n = 0
    sub.on('message', () => ++n === 12 && resolve())
  })
  for (let i = 0; i < 12; i++) await pub.publishAsync(`s/${i}`, 'x', { qos: 1 })
  await got
  const status = await h.get<StatusSummary>('/status')
  const res = await fetch(`${h.base}/metrics`, { headers: { authorization: `Bearer ${token}` } })
  const metrics = parseExposition(await res.text())
  assert.equal(status.connections, 2)
  assert.equal(status.workers, 2)
  assert.equal(status.totals.messagesIn, 12)
  assert.equal(status.totals.messagesIn, sumOf(metrics, 'mqttd_messages_received_total'))
  assert.equal(status.totals.messagesOut, sumOf(metrics, 'mqttd_messages_sent_total'))
  assert.equal(status.totals.accepted, sumOf(metrics, 'mqttd_connections_accepted_total'))
  assert.deepEqual(
    status.listeners.map((l) => [l.name, l.type, l.connections, l.path ?? '']),
    [
      ['tcp', 'tcp', 1, ''],
      ['ws', 'ws', 1, '/mqtt'],
    ],
  )
  assert.equal(status.listeners[0]!.port, h.server.port('tcp'))
  for (const [reason, n] of Object.entries(status.rejected))
    assert.equal(n, sumOf(metrics, 'mqttd_connections_rejected_total', { reason }), reason)
  assert.equal(
    status.broker.queueDrops,
    (status.dropped.queue_full ?? 0) + (status.dropped.slow_consumer ?? 0),
  )
  assert.match(status.version, /^\d+\.\d+\.\d+/)
})

test('GET /connections?search= pages through matching client ids; /connections/recent lists the newest first', async (t) => {
  const h = await harness(t)
  for (let i = 0; i < 5; i++) await connect(t, h.server.url('tcp'), `sensor-${i}`)
  await connect(t, h.server.url('tcp'), 'other-1')
  const seen: string[] = []
  let cursor: string | null = null
  let pages = 0
  do {
    const page: { items: ConnectionInfo[]; nextCursor: string | null } = await h.get(
      `/connections?search=sensor&limit=2${cursor ? `&cursor=${cursor}` : ''}`,
    )
    assert.ok(page.items.length <= 2)
    seen.push(...page.items.map((c) => c.clientId))
    cursor = page.nextCursor
    pages++
  } while (cursor !== null && pages < 10)
  assert.deepEqual(seen.toSorted(), ['sensor-0', 'sensor-1', 'sensor-2', 'sensor-3', 'sensor-4'])
  assert.ok(pages >= 3)

  const recent = await h.get<{ items: ConnectionInfo[] }>('/connections/recent?limit=3')
  assert.equal(recent.items.length, 3)
  assert.equal(recent.items[0]!.clientId, 'other-1', 'the last one to connect comes first')
  const times = recent.items.map((c) => Date.parse(c.connectedSince))
  assert.deepEqual(
    times,
    times.toSorted((a, b) => b - a),
  )
  const bad = await fetch(`${h.base}/connections/recent?limit=1000`, {
    headers: { authorization: `Bearer ${token}` },
  })
  assert.equal(bad.status, 400)
})

test('GET /config shows the effective config with admin.token redacted, and needs the token', async (t) => {
  const h = await harness(t)
  const config = await h.get<{ workers: number; admin: { token: string; ui: boolean } }>('/config')
  assert.equal(config.workers, 2)
  assert.equal(config.admin.token, '[redacted]')
  assert.equal(config.admin.ui, true)
  assert.equal((await fetch(`${h.base}/config`)).status, 401)
  assert.equal((await fetch(`${h.base}/status`)).status, 401)
  assert.equal((await fetch(`${h.base}/rates`)).status, 401)
})
