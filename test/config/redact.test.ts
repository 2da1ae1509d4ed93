import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { fileURLToPath } from 'node:url'
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

const root = fileURLToPath(new URL('../..', import.meta.url))

test('redactConfig hides tokens, passwords, secrets and private keys at any depth, keeps file paths and flags', () => {
  const shown = redactConfig({
    admin: { token: 'abc', host: '0.0.0.0', allowNoToken: false },
    auth: { passwordFile: '/etc/mqttd/passwd', aclFile: '/etc/mqttd/acl' },
    listeners: [{ type: 'tls', key: '/etc/tls/key.pem', cert: '/etc/tls/cert.pem' }],
    handlers: [
      { module: 'jwt', options: { secret: 's', nested: { apiKey: 'k', password: 'p', privateKey: 'x' } } },
    ],
  })
  assert.deepEqual(shown, {
    admin: { token: '[redacted]', host: '0.0.0.0', allowNoToken: false },
    auth: { passwordFile: '/etc/mqttd/passwd', aclFile: '/etc/mqttd/acl' },
    // a key file's path is shown redacted too: the key itself is the secret, but one rule is simpler to trust
    listeners: [{ type: 'tls', key: '[redacted]', cert: '/etc/tls/cert.pem' }],
    handlers: [
      {
        module: 'jwt',
        options: {
          secret: '[redacted]',
          nested: { apiKey: '[redacted]', password: '[redacted]', privateKey: '[redacted]' },
        },
      },
    ],
  })
})

test('mqttd --print-config never prints the admin token or handler secrets (YAML and JSON)', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'mqttd-redact-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  const file = join(dir, 'mqttd.yaml')
  writeFileSync(file, 'handlers:\n  - module: some-package\n    options: { clientSecret: hush-1 }\n')
  for (const extra of [[], ['--json']]) {
    const child = spawn(
      join(root, 'node_modules/.bin/node'),
      [join(root, 'bin/mqttd.js'), '--config', file, '--print-config', ...extra],
      { env: { ...process.env, MQTTD_ADMIN_TOKEN: 'token-from-env-42' } },
    )
    let out = ''
    child.stdout.on('data', (b) => (out += b))
    assert.equal(await new Promise((r) => child.once('close', r)), 0)
    assert.ok(!out.includes('token-from-env-42') && !out.includes('hush-1'), out)
    assert.match(out, /token"?: "?\[redacted\]"?/)
    assert.match(out, /allowNoToken"?: false/)
  }
})
