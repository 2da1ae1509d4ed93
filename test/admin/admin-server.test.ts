import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { test } from 'node:test'
import pino from 'pino'
import { type AdminServer, createAdminServer } from '../../src/admin/admin-server.ts'
import { bearerChecker } from '../../src/admin/auth.ts'
import type {
  AdminBackend,
  ConnectionInfo,
  ConnectionsPage,
  ConnectionsQuery,
  WorkerInfo,
} from '../../src/admin/types.ts'
import { ControlClient } from '../../src/control/control-channel.ts'
import { mqttdError } from '../../src/errors.ts'
import { MainMetrics } from '../../src/metrics/main-metrics.ts'
import { MetricsAggregator } from '../../src/metrics/metrics-aggregator.ts'
import { parseExposition, sampleValue } from '../helpers/prom-text.ts'

interface FakeBackend extends AdminBackend {
  ready: boolean
  clients: ConnectionInfo[]
  kicked: string[]
  fail: boolean
}

function connection(i: number): ConnectionInfo {
  return {
    clientId: `client-${String(i).padStart(3, '0')}`,
    workerId: 10 + (i % 2),
    transport: i % 3 === 0 ? 'ws' : 'tcp',
    listener: i % 3 === 0 ? 'ws' : 'mqtt',
    remoteAddress: '127.0.0.1',
    protocolVersion: i % 2 === 0 ? 5 : 4,
    connectedSince: new Date(1_780_000_000_000 + i * 1000).toISOString(),
    keepalive: 60,
    bytesIn: i * 100,
    bytesOut: i * 10,
  }
}

/** Offset paging over the fake's list, sorted by client id; the cursor is the next offset. */
function page(all: ConnectionInfo[], query: ConnectionsQuery): ConnectionsPage {
  const offset = query.cursor === undefined ? 0 : Number(query.cursor)
  if (!Number.isSafeInteger(offset) || offset < 0) {
    throw mqttdError('MQTTD_ERR_ADMIN_BAD_REQUEST', 'cursor is not a cursor returned by GET /connections')
  }
  const selected = all
    .filter((c) => query.clientId === undefined || c.clientId === query.clientId)
    .sort((a, b) => (a.clientId < b.clientId ? -1 : 1))
  const items = selected.slice(offset, offset + query.limit)
  return { items, nextCursor: offset + query.limit < selected.length ? String(offset + query.limit) : null }
}

function fakeBackend(t: { after(fn: () => void): void }): FakeBackend {
  const main = new MainMetrics({ defaultMetrics: false })
  const control = new ControlClient(randomUUID())
  t.after(() => control.close())
  const aggregator = new MetricsAggregator(main, control, () => 0)
  main.accepted('mqtt')
  const backend: FakeBackend = {
    ready: false,
    clients: Array.from({ length: 25 }, (_, i) => connection(i)),
    kicked: [],
    fail: false,
    isReady: () => backend.ready,
    metrics: (accept) => aggregator.scrape(accept),
    async workers(): Promise<WorkerInfo[]> {
      if (backend.fail) throw new Error('worker 3 did not answer')
      return [
        { id: 0, threadId: 10, connections: 13, eventLoopUtilization: 0.25, restarts: 0 },
        { id: 1, threadId: 11, connections: 12, eventLoopUtilization: 0.5, restarts: 2 },
      ]
    },
    async connections(query) {
      return page(backend.clients, query)
    },
    async kick(clientId) {
      const before = backend.clients.length
      backend.clients = backend.clients.filter((c) => c.clientId !== clientId)
      if (backend.clients.length === before) return false
      backend.kicked.push(clientId)
      return true
    },
  }
  return backend
}

async function start(
  t: { after(fn: () => Promise<void>): void },
  backend: AdminBackend,
  token?: string,
): Promise<{ server: AdminServer; url: (path: string) => string }> {
  const server = await createAdminServer({ host: '127.0.0.1', port: 0, backend, ...(token ? { token } : {}) })
  t.after(() => server.close())
  return { server, url: (path) => `http://127.0.0.1:${server.address.port}${path}` }
}

async function json(res: Response): Promise<Record<string, unknown>> {
  assert.match(res.headers.get('content-type') ?? '', /^application\/json/)
  return (await res.json()) as Record<string, unknown>
}

test('with a token every route but /healthz needs the bearer token (401 JSON otherwise)', async (t) => {
  const backend = fakeBackend(t)
  backend.ready = true
  const { url } = await start(t, backend, 's3cret-token')
  const auth = { authorization: 'Bearer s3cret-token' }

  for (const path of ['/metrics', '/readyz', '/workers', '/connections', '/', '/no-such-route']) {
    for (const headers of [
      {},
      { authorization: 'Bearer wrong' },
      { authorization: 'Basic czNjcmV0LXRva2Vu' },
    ]) {
      const res = await fetch(url(path), { headers })
      assert.equal(res.status, 401, `${path} ${JSON.stringify(headers)}`)
      assert.equal(res.headers.get('www-authenticate'), 'Bearer realm="mqttd-admin"')
      assert.deepEqual(await json(res), {
        statusCode: 401,
        code: 'MQTTD_ERR_ADMIN_UNAUTHORIZED',
        message: 'Missing or wrong bearer token',
      })
    }
  }
  const del = await fetch(url('/connections/client-001'), { method: 'DELETE' })
  assert.equal(del.status, 401)
  assert.deepEqual(backend.kicked, [])

  for (const path of ['/metrics', '/readyz', '/workers', '/connections', '/']) {
    assert.equal((await fetch(url(path), { headers: auth })).status, 200, path)
  }
  assert.equal((await fetch(url('/connections/client-001'), { method: 'DELETE', headers: auth })).status, 204)
  const health = await fetch(url('/healthz'))
  assert.equal(health.status, 200)
  assert.deepEqual(await json(health), { status: 'ok' })
  const missing = await fetch(url('/no-such-route'), { headers: auth })
  assert.equal(missing.status, 404)
  assert.equal((await json(missing)).code, 'MQTTD_ERR_ADMIN_ROUTE_NOT_FOUND')
})

test('the token check compares digests: right, wrong, other lengths, malformed', () => {
  const check = bearerChecker('abc')
  assert.equal(check('Bearer abc'), true)
  assert.equal(check('bearer abc'), true)
  assert.equal(check('Bearer abd'), false)
  assert.equal(check('Bearer abcd'), false)
  assert.equal(check('Bearer '), false)
  assert.equal(check('abc'), false)
  assert.equal(check(undefined), false)
})

test('an empty or spaced token is a config error; a taken port is a listen error', async (t) => {
  const backend = fakeBackend(t)
  await assert.rejects(createAdminServer({ port: 0, backend, token: '' }), {
    code: 'MQTTD_ERR_CONFIG_INVALID',
  })
  await assert.rejects(createAdminServer({ port: 0, backend, token: 'a b' }), {
    code: 'MQTTD_ERR_CONFIG_INVALID',
  })
  const { server } = await start(t, backend)
  await assert.rejects(createAdminServer({ host: '127.0.0.1', port: server.address.port, backend }), {
    code: 'MQTTD_ERR_LISTEN',
  })
})

test('/readyz: 503 with a stable code until the backend is ready, 200 then, 503 again while draining', async (t) => {
  const backend = fakeBackend(t)
  const { url } = await start(t, backend)
  const starting = await fetch(url('/readyz'))
  assert.equal(starting.status, 503)
  assert.equal((await json(starting)).code, 'MQTTD_ERR_ADMIN_NOT_READY')
  backend.ready = true
  const ready = await fetch(url('/readyz'))
  assert.equal(ready.status, 200)
  assert.deepEqual(await json(ready), { status: 'ready' })
  backend.ready = false
  assert.equal((await fetch(url('/readyz'))).status, 503)
  // Liveness does not depend on readiness.
  assert.equal((await fetch(url('/healthz'))).status, 200)
})

test('/connections pages with a cursor, filters by clientId, validates its query', async (t) => {
  const backend = fakeBackend(t)
  const { url } = await start(t, backend)
  const seen: ConnectionInfo[] = []
  let cursor: string | null = null
  const sizes: number[] = []
  do {
    const qs: string = cursor === null ? '' : `&cursor=${encodeURIComponent(cursor)}`
    const res = await fetch(url(`/connections?limit=10${qs}`))
    assert.equal(res.status, 200)
    const page = (await json(res)) as { items: ConnectionInfo[]; nextCursor: string | null }
    sizes.push(page.items.length)
    seen.push(...page.items)
    cursor = page.nextCursor
  } while (cursor !== null)
  assert.deepEqual(sizes, [10, 10, 5])
  assert.deepEqual(
    seen,
    [...backend.clients].sort((a, b) => (a.clientId < b.clientId ? -1 : 1)),
  )

  const all = (await json(await fetch(url('/connections')))) as { items: unknown[]; nextCursor: unknown }
  assert.equal(all.items.length, 25, 'default limit covers 25')
  assert.equal(all.nextCursor, null)

  const one = (await json(await fetch(url('/connections?clientId=client-007')))) as {
    items: ConnectionInfo[]
  }
  assert.deepEqual(one.items, [connection(7)])
  const none = (await json(await fetch(url('/connections?clientId=nobody')))) as { items: unknown[] }
  assert.deepEqual(none.items, [])

  for (const bad of ['limit=0', 'limit=1001', 'limit=ten', 'cursor=not-a-cursor']) {
    const res = await fetch(url(`/connections?${bad}`))
    assert.equal(res.status, 400, bad)
    const body = await json(res)
    assert.equal(body.code, 'MQTTD_ERR_ADMIN_BAD_REQUEST', bad)
    assert.equal(body.statusCode, 400)
  }
})

test('DELETE /connections/:clientId kicks a known client (204) and answers 404 for an unknown one', async (t) => {
  const backend = fakeBackend(t)
  const { url } = await start(t, backend)
  const unknown = await fetch(url('/connections/nobody'), { method: 'DELETE' })
  assert.equal(unknown.status, 404)
  assert.deepEqual(await json(unknown), {
    statusCode: 404,
    code: 'MQTTD_ERR_ADMIN_CLIENT_NOT_FOUND',
    message: 'No connected client with id nobody',
  })
  const kicked = await fetch(url(`/connections/${encodeURIComponent('client-003')}`), { method: 'DELETE' })
  assert.equal(kicked.status, 204)
  assert.equal(await kicked.text(), '')
  assert.deepEqual(backend.kicked, ['client-003'])
  const after = (await json(await fetch(url('/connections?clientId=client-003')))) as { items: unknown[] }
  assert.deepEqual(after.items, [])
})

test('/workers serialises through its schema; a failing backend gives 500 with a stable code', async (t) => {
  const backend = fakeBackend(t)
  const { url } = await start(t, backend)
  const ok = await json(await fetch(url('/workers')))
  assert.deepEqual(ok, {
    workers: [
      { id: 0, threadId: 10, connections: 13, eventLoopUtilization: 0.25, restarts: 0 },
      { id: 1, threadId: 11, connections: 12, eventLoopUtilization: 0.5, restarts: 2 },
    ],
  })
  backend.fail = true
  const failed = await fetch(url('/workers'))
  assert.equal(failed.status, 500)
  assert.deepEqual(await json(failed), {
    statusCode: 500,
    code: 'MQTTD_ERR_ADMIN_BACKEND',
    message: 'Admin request failed: worker 3 did not answer',
  })
})

test('/metrics negotiates OpenMetrics from the Accept header', async (t) => {
  const backend = fakeBackend(t)
  const { url } = await start(t, backend)
  const text = await fetch(url('/metrics'))
  assert.equal(text.status, 200)
  assert.equal(text.headers.get('content-type'), 'text/plain; version=0.0.4; charset=utf-8')
  const e = parseExposition(await text.text())
  assert.equal(sampleValue(e, 'mqttd_connections_accepted_total', { listener: 'mqtt' }), 1)

  const om = await fetch(url('/metrics'), {
    headers: {
      accept: 'application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5,*/*;q=0.1',
    },
  })
  assert.equal(om.headers.get('content-type'), 'application/openmetrics-text; version=1.0.0; charset=utf-8')
  const o = parseExposition(await om.text(), 'openmetrics')
  assert.equal(o.families.get('mqttd_connections_accepted')?.type, 'counter')
  assert.equal(sampleValue(o, 'mqttd_connections_accepted_total', { listener: 'mqtt' }), 1)
})

test('GET / describes every route with its schema', async (t) => {
  const backend = fakeBackend(t)
  const { url } = await start(t, backend)
  const { routes } = (await json(await fetch(url('/')))) as {
    routes: { method: string; url: string; schema?: { description?: string; response?: object } }[]
  }
  const names = routes.map((r) => `${r.method} ${r.url}`).sort()
  assert.deepEqual(names, [
    'DELETE /connections/:clientId',
    'GET /',
    'GET /connections',
    'GET /healthz',
    'GET /metrics',
    'GET /readyz',
    'GET /ui',
    'GET /ui/',
    'GET /ui/*',
    'GET /workers',
  ])
  const connections = routes.find((r) => r.url === '/connections')!
  assert.ok(connections.schema?.description)
  assert.ok(connections.schema?.response && '200' in connections.schema.response)
})

test('requests are not logged, and starting the admin server prints no deprecation (FSTDEP023)', async (t) => {
  const warnings: Array<{ name: string; code?: string }> = []
  const onWarning = (w: Error & { code?: string }) => warnings.push({ name: w.name, code: w.code })
  process.on('warning', onWarning)
  t.after(() => process.off('warning', onWarning))
  const lines: string[] = []
  const logger = pino({ level: 'info' }, { write: (line: string) => void lines.push(line) })
  const backend = fakeBackend(t)
  const server = await createAdminServer({ host: '127.0.0.1', port: 0, backend, logger })
  t.after(() => server.close())
  assert.equal((await fetch(`http://127.0.0.1:${server.address.port}/healthz`)).status, 200)
  await new Promise((resolve) => setImmediate(resolve)) // warnings are emitted on a later tick
  assert.deepEqual(
    warnings.filter((w) => w.code?.startsWith('FST')),
    [],
  )
  assert.equal(lines.filter((l) => /incoming request|request completed/.test(l)).length, 0)
})
