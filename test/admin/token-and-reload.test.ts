// The admin API's security options: a public /metrics opt-in, a token replaced by a reload, and
// POST /reload answering with the backend's report or its refusal.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { createAdminServer } from '../../src/admin/admin-server.ts'
import type { AdminBackend, ReloadResult } from '../../src/admin/types.ts'

function backend(reload: () => Promise<ReloadResult>): AdminBackend {
  return {
    isReady: () => true,
    metrics: async () => ({ body: '# empty\n', contentType: 'text/plain; version=0.0.4' }),
    workers: async () => [],
    connections: async () => ({ items: [], nextCursor: null }),
    kick: async () => false,
    reload,
  }
}

test('admin.publicMetrics serves /metrics without the token; every other route still needs it', async (t) => {
  const server = await createAdminServer({
    port: 0,
    token: 'tok',
    publicMetrics: true,
    backend: backend(async () => ({ ok: true, report: { file: null, applied: [], restartNeeded: [] } })),
  })
  t.after(() => server.close())
  const url = (path: string) => `http://127.0.0.1:${server.address.port}${path}`
  assert.equal((await fetch(url('/metrics'))).status, 200)
  for (const path of ['/readyz', '/workers', '/connections'])
    assert.equal((await fetch(url(path))).status, 401, path)
  assert.equal((await fetch(url('/reload'), { method: 'POST' })).status, 401)
})

test('setToken replaces the token for the next request; POST /reload answers 200 with the report or 409 with the error', async (t) => {
  const results: ReloadResult[] = [
    { ok: true, report: { file: '/etc/mqttd.yaml', applied: ['admin.token'], restartNeeded: ['workers'] } },
    {
      ok: false,
      error: { code: 'MQTTD_ERR_RELOAD', message: 'Reload refused, the running configuration stays: x' },
    },
  ]
  const server = await createAdminServer({
    port: 0,
    token: 'old',
    backend: backend(async () => results.shift()!),
  })
  t.after(() => server.close())
  const url = `http://127.0.0.1:${server.address.port}`
  const post = (token: string) =>
    fetch(`${url}/reload`, { method: 'POST', headers: { authorization: `Bearer ${token}` } })
  const ok = await post('old')
  assert.equal(ok.status, 200)
  assert.deepEqual(await ok.json(), {
    file: '/etc/mqttd.yaml',
    applied: ['admin.token'],
    restartNeeded: ['workers'],
  })
  server.setToken('new')
  assert.equal((await post('old')).status, 401)
  const refused = await post('new')
  assert.equal(refused.status, 409)
  assert.deepEqual(await refused.json(), {
    statusCode: 409,
    code: 'MQTTD_ERR_RELOAD',
    message: 'Reload refused, the running configuration stays: x',
  })
  server.setToken(undefined)
  assert.equal((await fetch(`${url}/workers`)).status, 200, 'no token: open (a loopback admin)')
  assert.throws(() => server.setToken('has space'), { code: 'MQTTD_ERR_CONFIG_INVALID' })
})
