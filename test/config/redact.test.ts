import assert from 'node:assert/strict'
import { test } from 'node:test'
import { isSecretKey, redactConfig, redacted } from '../../src/config/redact.ts'
import { validateConfig } from '../../src/config/validate.ts'

test('redactConfig hides admin.token, TLS keys, passphrases and handler secrets at any depth', () => {
  const pem = '-----BEGIN PRIVATE KEY-----\nMIIEv...\n-----END PRIVATE KEY-----\n'
  const input = {
    admin: { enabled: true, token: 'tok-123' },
    listeners: [{ name: 'tls', type: 'tls', port: 8883, key: 'certs/server.key', cert: 'certs/server.crt' }],
    handlers: [
      {
        module: './auth.ts',
        options: {
          password: 'pw',
          clientSecret: 'cs',
          apiKey: 'ak',
          nested: [{ passphrase: 'pp', inline: pem }],
          url: 'nats://user:hunter2@nats.local:4222',
          plain: 'visible',
        },
      },
    ],
  }
  const out = redactConfig(input)
  assert.equal(out.admin.token, redacted)
  assert.equal(out.admin.enabled, true)
  assert.equal(out.listeners[0]!.key, redacted)
  assert.equal(out.listeners[0]!.cert, 'certs/server.crt', 'a certificate is public')
  const options = out.handlers[0]!.options
  assert.equal(options.password, redacted)
  assert.equal(options.clientSecret, redacted)
  assert.equal(options.apiKey, redacted)
  assert.equal(options.nested[0]!.passphrase, redacted)
  assert.equal(options.nested[0]!.inline, redacted, 'an inline private key, whatever its key name')
  assert.equal(options.url, `nats://user:${redacted}@nats.local:4222`)
  assert.equal(options.plain, 'visible')
  const text = JSON.stringify(out)
  for (const secret of ['tok-123', 'hunter2', 'MIIEv', '"pw"', '"cs"', '"ak"', '"pp"']) {
    assert.ok(!text.includes(secret), secret)
  }
  assert.equal(input.admin.token, 'tok-123', 'the input is not changed')
})

test('redactConfig keeps an unset secret absent and leaves the rest of a validated config as is', () => {
  const config = validateConfig({ listeners: [{ type: 'tcp', port: 0 }], admin: { port: 0 } })
  const out = redactConfig(config)
  assert.equal('token' in out.admin, false)
  assert.deepEqual(out, JSON.parse(JSON.stringify(config)))
})

test('isSecretKey names secrets, not their neighbours', () => {
  for (const key of [
    'token',
    'password',
    'passwd',
    'secret',
    'key',
    'passphrase',
    'apiKey',
    'privateKey',
    'accessToken',
  ])
    assert.ok(isSecretKey(key), key)
  for (const key of [
    'passwordFile',
    'aclFile',
    'cert',
    'ca',
    'keepalive',
    'maxKeys',
    'requestCert',
    'enabled',
  ])
    assert.ok(!isSecretKey(key), key)
})
