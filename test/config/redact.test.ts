import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { redactSecrets } from '../../src/config/redact.ts'

const root = fileURLToPath(new URL('../..', import.meta.url))

test('redactSecrets hides tokens, passwords, secrets and private keys at any depth, keeps file paths', () => {
  const shown = redactSecrets({
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
    listeners: [{ type: 'tls', key: '/etc/tls/key.pem', cert: '/etc/tls/cert.pem' }],
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
