import assert from 'node:assert/strict'
import { test } from 'node:test'
import { assertSafeExposure, authSettings, isLoopback } from '../../src/auth/exposure.ts'
import type { MqttdConfigInput } from '../../src/config/schema.ts'
import { validateConfig } from '../../src/config/validate.ts'

test('isLoopback: 127.0.0.0/8, ::1 and localhost only', () => {
  for (const host of ['127.0.0.1', '127.1.2.3', '::1', '[::1]', 'localhost', '::ffff:127.0.0.1']) {
    assert.equal(isLoopback(host), true, host)
  }
  for (const host of ['0.0.0.0', '::', '10.0.0.1', '192.168.1.2', 'example.com', '::ffff:10.0.0.1']) {
    assert.equal(isLoopback(host), false, host)
  }
})

const config = (input: MqttdConfigInput) => validateConfig(input)
const open = { type: 'tcp' as const, host: '0.0.0.0', port: 1883 }
const local = { type: 'tcp' as const, host: '127.0.0.1', port: 1884 }

test('anonymous clients are allowed by default only while every listener is on loopback', () => {
  assert.equal(authSettings(config({ listeners: [local] })), null, 'no auth: section, no handler')
  assert.equal(authSettings(config({ listeners: [local], auth: {} }))!.allowAnonymous, true)
  assert.equal(authSettings(config({ listeners: [local, open], auth: {} }))!.allowAnonymous, false)
  assert.equal(
    authSettings(config({ listeners: [open], auth: { allowAnonymous: true } }))!.allowAnonymous,
    true,
  )
  assert.equal(
    authSettings(config({ listeners: [local], auth: { allowAnonymous: false } }))!.allowAnonymous,
    false,
  )
})

test('assertSafeExposure: an open listener needs auth:, an open admin needs a token or allowNoToken', () => {
  assert.throws(() => assertSafeExposure(config({ listeners: [local, open] })), {
    code: 'MQTTD_ERR_AUTH_REQUIRED',
    message: 'Listener tcp-1883 binds 0.0.0.0 without authentication',
  })
  assert.doesNotThrow(() => assertSafeExposure(config({ listeners: [open], auth: { allowAnonymous: true } })))
  const admin = (a: MqttdConfigInput['admin']) => config({ listeners: [local], admin: a })
  assert.throws(() => assertSafeExposure(admin({ host: '0.0.0.0' })), {
    code: 'MQTTD_ERR_ADMIN_TOKEN_REQUIRED',
  })
  assert.doesNotThrow(() => assertSafeExposure(admin({ host: '0.0.0.0', token: 't' })))
  assert.doesNotThrow(() => assertSafeExposure(admin({ host: '0.0.0.0', allowNoToken: true })))
  assert.doesNotThrow(() => assertSafeExposure(admin({ host: '0.0.0.0', enabled: false })))
  assert.doesNotThrow(() => assertSafeExposure(admin({ host: '::1' })))
})
