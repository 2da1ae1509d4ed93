import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { authSettings } from '../../src/auth/exposure.ts'
import { hashPassword } from '../../src/auth/password-hash.ts'
import { withFileTexts } from '../../src/auth/state.ts'
import type { MqttdConfigInput } from '../../src/config/schema.ts'
import { validateConfig } from '../../src/config/validate.ts'
import { planReload } from '../../src/main/reload.ts'

const base: MqttdConfigInput = {
  workers: 2,
  listeners: [{ name: 'mqtt', type: 'tcp', port: 1883 }],
  admin: { port: 9883 },
}

test('planReload: what applies live, what needs a restart', () => {
  const running = validateConfig(base)
  const next = validateConfig({
    ...base,
    workers: 4,
    handlers: ['./h.ts'],
    limits: { maxConnections: 10, maxPacketSize: 4096, hookTimeoutMs: 9000, handoffQueue: 5 },
    log: { level: 'debug', payloads: true },
    admin: { port: 9999, token: 't' },
    shutdown: { drainTimeoutMs: 5 },
  })
  const plan = planReload(running, next, { auth: null, tls: new Map() })
  assert.deepEqual(plan.applied.sort(), [
    'admin.token',
    'limits.maxConnections',
    'limits.maxPacketSize',
    'log.level',
    'shutdown.drainTimeoutMs',
  ])
  assert.deepEqual(plan.restartNeeded.sort(), [
    'admin.port',
    'handlers',
    'limits.handoffQueue',
    'limits.hookTimeoutMs',
    'log.payloads',
    'workers',
  ])
  assert.deepEqual(plan.worker, { logLevel: 'debug', limits: { maxPacketSize: 4096 } })
})

test('planReload: a changed password file is re-read and sent; adding or removing auth needs a restart', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'mqttd-plan-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  const passwd = join(dir, 'passwd')
  writeFileSync(passwd, `a:${await hashPassword('x', 5)}\n`)
  const withAuth = validateConfig({ ...base, auth: { passwordFile: passwd } })
  const current = { auth: withFileTexts(authSettings(withAuth)!), tls: new Map() }
  assert.deepEqual(planReload(withAuth, withAuth, current).applied, [])
  writeFileSync(passwd, `a:${await hashPassword('y', 5)}\n`)
  const plan = planReload(withAuth, withAuth, current)
  assert.deepEqual(plan.applied, ['auth.passwordFile'])
  assert.match(plan.worker.auth!.passwordText!, /^a:\$7\$5\$/)
  writeFileSync(passwd, 'a:broken\n')
  assert.throws(() => planReload(withAuth, withAuth, current), { code: 'MQTTD_ERR_AUTH_FILE' })
  assert.deepEqual(planReload(withAuth, validateConfig(base), current).restartNeeded, ['auth'])
})
