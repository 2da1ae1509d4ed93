/**
 * The admin API and metrics against the real pooled server: real worker
 * threads, real sockets, mqtt.js clients, scrapes over HTTP parsed as
 * Prometheus text.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type TestContext, test } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import mqtt, { type IDisconnectPacket, type MqttClient } from 'mqtt'
import type { ConnectionInfo } from '../../src/admin/types.ts'
import type { MqttdConfigInput } from '../../src/config/schema.ts'
import { type RunningServer, startServer } from '../../src/main/server.ts'
import { type Exposition, parseExposition, sampleValue, seriesOf, sumOf } from '../helpers/prom-text.ts'
import { startTestServer, type TestServer } from '../helpers/server.ts'

interface Harness {
  server: TestServer
  /** GET/DELETE on the admin API. */
  admin(path: string, init?: RequestInit): Promise<Response>
  scrape(): Promise<Exposition>
  /** Starts draining the way the server does on SIGTERM. */
  drain(): Promise<void>
}

const token = 'e2e-admin-token'

/** The real server with its own admin listener (admin.enabled, a token, port 0). */
async function harness(t: TestContext, workers = 2): Promise<Harness> {
  const server = await startTestServer(t, {
    workers,
    config: { admin: { enabled: true, host: '127.0.0.1', port: 0, token } },
  })
  assert.ok(server.admin !== null, 'the server serves the admin API when admin.enabled')
  const base = `http://127.0.0.1:${server.admin.port}`
  const adminFetch = (path: string, init: RequestInit = {}) =>
    fetch(`${base}${path}`, { ...init, headers: { authorization: `Bearer ${token}`, ...init.headers } })
  return {
    server,
    admin: adminFetch,
    async scrape() {
      const res = await adminFetch('/metrics')
      assert.equal(res.status, 200)
      return parseExposition(await res.text())
    },
    drain: () => server.drain(),
  }
}

async function connect(
  t: TestContext,
  url: string,
  clientId: string,
  protocolVersion: 4 | 5,
): Promise<MqttClient> {
  const client = await mqtt.connectAsync(url, {
    clientId,
    protocolVersion,
    reconnectPeriod: 0,
    keepalive: 60,
  })
  t.after(() => client.endAsync(true))
  return client
}

/** Polls `probe` until it returns true, at most ~5 s (the state under test changes asynchronously). */
async function until(probe: () => Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if (await probe()) return
    await sleep(50)
  }
  assert.fail(`timed out waiting for ${what}`)
}

test('e2e: exact counters summed across 2 workers from mqtt.js traffic, scraped over HTTP', async (t) => {
  const h = await harness(t, 2)
  const clients: MqttClient[] = []
  for (let i = 0; i < 6; i++)
    clients.push(await connect(t, h.server.url('tcp'), `e2e-${i}`, i % 2 === 0 ? 5 : 4))
  // QoS 0: 7 per client; QoS 1: 3 per client (each acknowledged before the next).
  for (const [i, c] of clients.entries()) {
    for (let k = 0; k < 7; k++) c.publish(`t/${i}`, `m${k}`, { qos: 0 })
    for (let k = 0; k < 3; k++) await c.publishAsync(`t/${i}`, `q${k}`, { qos: 1 })
  }
  // The QoS 1 acks arrived after the QoS 0 sends on the same socket, so all were received.
  const e = await h.scrape()
  assert.equal(sampleValue(e, 'mqttd_connections_accepted_total', { listener: 'tcp' }), 6)
  assert.equal(sampleValue(e, 'mqttd_connections', { listener: 'tcp', transport: 'tcp' }), 6)
  assert.equal(sampleValue(e, 'mqttd_packets_received_total', { type: 'connect' }), 6)
  assert.equal(sampleValue(e, 'mqttd_packets_received_total', { type: 'publish' }), 60)
  assert.equal(sampleValue(e, 'mqttd_packets_sent_total', { type: 'connack' }), 6)
  assert.equal(sampleValue(e, 'mqttd_packets_sent_total', { type: 'puback' }), 18)
  assert.equal(sampleValue(e, 'mqttd_messages_received_total', { qos: '0' }), 42)
  assert.equal(sampleValue(e, 'mqttd_messages_received_total', { qos: '1' }), 18)
  assert.equal(sampleValue(e, 'mqttd_handoff_seconds_count'), 6)
  assert.equal(sumOf(e, 'mqttd_connections_rejected_total'), 0)

  // The connections really are spread over both workers, and the per-worker gauges say so; `worker` is the
  // worker's stable number, 0..N-1, not its thread id
  const ids = ['0', '1']
  const perWorker = ids.map((id) => sampleValue(e, 'mqttd_worker_connections', { worker: id }))
  assert.equal(
    perWorker.reduce((a, b) => a + b, 0),
    6,
  )
  assert.ok(
    perWorker.every((n) => n > 0),
    `connections per worker: ${perWorker}`,
  )
  assert.deepEqual(
    seriesOf(e, 'mqttd_worker_event_loop_utilization_ratio')
      .map((s) => s.labels.worker)
      .sort(),
    [...ids].sort(),
  )
  assert.equal(seriesOf(e, 'mqttd_process_resident_memory_bytes').length, 1)
  // no gauge poses as a counter (prom-client's nodejs_active_*_total are exposed without the suffix)
  for (const [name, family] of e.families)
    if (family.type === 'gauge') assert.ok(!name.endsWith('_total'), `gauge ${name} ends in _total`)
  assert.equal(seriesOf(e, 'mqttd_nodejs_active_handles').length > 0, true)

  const workers = (await (await h.admin('/workers')).json()) as {
    workers: { threadId: number; connections: number }[]
  }
  assert.deepEqual(
    workers.workers.map((w) => w.connections),
    perWorker,
  )

  // Bytes: what the clients wrote and read, exactly, once their connections closed.
  const written = clients.reduce(
    (n, c) => n + (c.stream as unknown as { bytesWritten: number }).bytesWritten,
    0,
  )
  const read = clients.reduce((n, c) => n + (c.stream as unknown as { bytesRead: number }).bytesRead, 0)
  await Promise.all(clients.map((c) => c.endAsync()))
  const finalWritten = clients.reduce(
    (n, c) => n + (c.stream as unknown as { bytesWritten: number }).bytesWritten,
    0,
  )
  assert.ok(finalWritten > written, 'DISCONNECT was written on end')
  let closed: Exposition | undefined
  await until(async () => {
    closed = await h.scrape()
    return sumOf(closed, 'mqttd_connections') === 0
  }, 'connections to close')
  assert.equal(sampleValue(closed!, 'mqttd_bytes_received_total'), finalWritten)
  assert.equal(sampleValue(closed!, 'mqttd_bytes_sent_total'), read)
  assert.equal(sampleValue(closed!, 'mqttd_packets_received_total', { type: 'disconnect' }), 6)
})

test('e2e: a killed worker is replaced and no counter goes backwards', async (t) => {
  const h = await harness(t, 2)
  const clients: MqttClient[] = []
  for (let i = 0; i < 4; i++) clients.push(await connect(t, h.server.url('tcp'), `kill-${i}`, 5))
  for (const c of clients) for (let k = 0; k < 5; k++) await c.publishAsync('k', 'x', { qos: 1 })
  const before = await h.scrape()
  assert.equal(sampleValue(before, 'mqttd_packets_received_total', { type: 'publish' }), 20)

  const victim = h.server.pool.threads[0]!
  const victimId = victim.threadId
  await victim.terminate()
  await until(
    async () => h.server.workerThreadIds().length === 2 && !h.server.workerThreadIds().includes(victimId),
    'the pool to replace the worker',
  )
  const after = await h.scrape()
  for (const s of before.samples) {
    const family = s.name.replace(/_(bucket|sum|count)$/, '')
    const type = before.families.get(family)?.type ?? before.families.get(s.name)?.type
    if (type !== 'counter' && type !== 'histogram') continue
    if (s.name.startsWith('mqttd_process_') || s.name.startsWith('mqttd_nodejs_')) continue
    const now = sumOf(after, s.name, s.labels)
    assert.ok(now >= s.value, `${s.name}${JSON.stringify(s.labels)} went from ${s.value} to ${now}`)
  }
  assert.equal(sampleValue(after, 'mqttd_packets_received_total', { type: 'publish' }), 20)
  assert.equal(sampleValue(after, 'mqttd_worker_restarts_total'), 1)
  // the replacement continues the dead worker's series once it answers: same `worker` labels, no new series
  let settled = after
  await until(async () => {
    settled = await h.scrape()
    return seriesOf(settled, 'mqttd_worker_event_loop_utilization_ratio').length >= 2
  }, 'the replacement to answer a scrape')
  assert.deepEqual(
    seriesOf(settled, 'mqttd_worker_event_loop_utilization_ratio')
      .map((s) => s.labels.worker)
      .sort(),
    ['0', '1'],
  )
  assert.deepEqual(
    seriesOf(settled, 'mqttd_worker_connections')
      .map((s) => s.labels.worker)
      .sort(),
    ['0', '1'],
  )

  // The survivors keep counting on top of the retained total.
  const survivors = clients.filter((c) => c.connected)
  assert.ok(survivors.length > 0 && survivors.length < 4, `${survivors.length} clients survived`)
  for (const c of survivors) await c.publishAsync('k', 'y', { qos: 1 })
  const later = await h.scrape()
  assert.equal(sampleValue(later, 'mqttd_packets_received_total', { type: 'publish' }), 20 + survivors.length)
})

test('e2e: kicking a v5 client sends DISCONNECT 0x98 and removes it from /connections', async (t) => {
  const h = await harness(t, 2)
  const target = await connect(t, h.server.url('tcp'), 'kick-me', 5)
  const legacy = await connect(t, h.server.url('tcp'), 'kick-me-too', 4)
  await connect(t, h.server.url('tcp'), 'bystander', 5)

  const listed = (await (await h.admin('/connections')).json()) as { items: ConnectionInfo[] }
  assert.deepEqual(listed.items.map((c) => c.clientId).sort(), ['bystander', 'kick-me', 'kick-me-too'])
  const mine = listed.items.find((c) => c.clientId === 'kick-me')!
  assert.equal(mine.protocolVersion, 5)
  assert.equal(mine.transport, 'tcp')
  assert.equal(mine.listener, 'tcp')
  assert.equal(mine.keepalive, 60)
  assert.ok(h.server.workerThreadIds().includes(mine.workerId))
  assert.ok(!Number.isNaN(Date.parse(mine.connectedSince)))

  const page1 = (await (await h.admin('/connections?limit=2')).json()) as {
    items: ConnectionInfo[]
    nextCursor: string
  }
  assert.equal(page1.items.length, 2)
  const page2 = (await (
    await h.admin(`/connections?limit=2&cursor=${encodeURIComponent(page1.nextCursor)}`)
  ).json()) as { items: ConnectionInfo[]; nextCursor: string | null }
  assert.equal(page2.items.length, 1)
  assert.equal(page2.nextCursor, null)
  assert.deepEqual([...page1.items, ...page2.items].map((c) => c.clientId).sort(), [
    'bystander',
    'kick-me',
    'kick-me-too',
  ])

  const disconnect = new Promise<IDisconnectPacket>((resolve) => target.once('disconnect', resolve))
  const closed = new Promise<void>((resolve) => target.once('close', () => resolve()))
  const res = await h.admin('/connections/kick-me', { method: 'DELETE' })
  assert.equal(res.status, 204)
  const packet = await disconnect
  assert.equal(packet.reasonCode, 0x98)
  await closed

  const legacyClosed = new Promise<void>((resolve) => legacy.once('close', () => resolve()))
  assert.equal((await h.admin('/connections/kick-me-too', { method: 'DELETE' })).status, 204)
  await legacyClosed

  await until(async () => {
    const page = (await (await h.admin('/connections')).json()) as { items: ConnectionInfo[] }
    return page.items.length === 1 && page.items[0]!.clientId === 'bystander'
  }, 'kicked clients to leave /connections')
  const again = await h.admin('/connections/kick-me', { method: 'DELETE' })
  assert.equal(again.status, 404)
  assert.equal(((await again.json()) as { code: string }).code, 'MQTTD_ERR_ADMIN_CLIENT_NOT_FOUND')
})

test('e2e: /readyz is 200 while serving and 503 once draining starts', async (t) => {
  const h = await harness(t, 2)
  assert.equal((await h.admin('/readyz')).status, 200)
  const client = await connect(t, h.server.url('tcp'), 'drained', 5)
  const disconnect = new Promise<IDisconnectPacket>((resolve) => client.once('disconnect', resolve))
  const draining = h.drain()
  const during = await h.admin('/readyz')
  assert.equal(during.status, 503)
  assert.equal(((await during.json()) as { code: string }).code, 'MQTTD_ERR_ADMIN_NOT_READY')
  assert.equal((await h.admin('/healthz')).status, 200)
  assert.equal((await disconnect).reasonCode, 0x8b)
  await draining
  assert.equal((await h.admin('/readyz')).status, 503)
})

test('e2e: the config token guards the server admin API; /healthz stays open', async (t) => {
  const h = await harness(t, 1)
  const base = `http://127.0.0.1:${h.server.admin!.port}`
  for (const path of ['/metrics', '/workers', '/connections', '/readyz']) {
    const res = await fetch(`${base}${path}`)
    assert.equal(res.status, 401, path)
    assert.equal(((await res.json()) as { code: string }).code, 'MQTTD_ERR_ADMIN_UNAUTHORIZED')
    const wrong = await fetch(`${base}${path}`, { headers: { authorization: 'Bearer not-it' } })
    assert.equal(wrong.status, 401, path)
  }
  assert.equal((await fetch(`${base}/healthz`)).status, 200)
  const workers = (await (await h.admin('/workers')).json()) as { workers: { threadId: number }[] }
  assert.deepEqual(
    workers.workers.map((w) => w.threadId),
    h.server.workerThreadIds(),
  )
})

test('e2e: before any client connects, the accept and refusal series of every listener are at 0', async (t) => {
  const h = await harness(t, 1)
  const exposition = await h.scrape()
  assert.equal(sampleValue(exposition, 'mqttd_connections_accepted_total', { listener: 'tcp' }), 0)
  for (const reason of ['max_connections', 'rate_limited', 'queue_full']) {
    assert.equal(
      sampleValue(exposition, 'mqttd_connections_rejected_total', { listener: 'tcp', reason }),
      0,
      reason,
    )
  }
})

const initGate = new URL('../fixtures/handlers/init-gate.ts', import.meta.url).pathname

function startGated(
  t: TestContext,
  handlers: MqttdConfigInput['handlers'],
): { started: Promise<RunningServer>; adminPort: Promise<number> } {
  let resolvePort!: (port: number) => void
  const adminPort = new Promise<number>((resolve) => {
    resolvePort = resolve
  })
  const started = startServer(
    {
      workers: 2,
      listeners: [{ type: 'tcp', host: '127.0.0.1', port: 0 }],
      handlers,
      broker: false,
      admin: { enabled: true, host: '127.0.0.1', port: 0 },
      log: { level: 'silent' },
    },
    { onAdminListening: (address) => resolvePort(address.port) },
  )
  t.after(async () => {
    const server = await started.catch(() => null)
    await server?.close()
  })
  return { started, adminPort }
}

test('e2e: the admin listener is up while the workers start: /readyz and /healthz 503 until ready', async (t) => {
  const gate = join(mkdtempSync(join(tmpdir(), 'mqttd-gate-')), 'open')
  t.after(() => writeFileSync(gate, '')) // never leave a worker waiting
  const { started, adminPort } = startGated(t, [{ module: initGate, options: { file: gate } }])
  const base = `http://127.0.0.1:${await adminPort}`
  let settled = false
  void started.finally(() => {
    settled = true
  })
  const starting = await fetch(`${base}/readyz`)
  assert.equal(starting.status, 503)
  assert.equal(((await starting.json()) as { code: string }).code, 'MQTTD_ERR_ADMIN_NOT_READY')
  // liveness as when the admin API was not up yet: a probe sees no server until it serves
  assert.equal((await fetch(`${base}/healthz`)).status, 503)
  assert.equal(settled, false, 'the workers are still in init')
  writeFileSync(gate, '')
  const server = await started
  assert.equal(server.admin?.port, await adminPort)
  assert.equal((await fetch(`${base}/readyz`)).status, 200)
  assert.equal((await fetch(`${base}/healthz`)).status, 200)
})

test('e2e: a failed start-up closes the admin listener it opened', async (t) => {
  const { started, adminPort } = startGated(t, [
    new URL('../fixtures/handlers/init-fails.ts', import.meta.url).pathname,
  ])
  const port = await adminPort
  await assert.rejects(started, { code: 'MQTTD_ERR_HANDLER_INIT' })
  await assert.rejects(fetch(`http://127.0.0.1:${port}/healthz`), /fetch failed/)
})
