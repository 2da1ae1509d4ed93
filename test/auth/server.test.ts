// The built-in auth through a real server and real clients: mosquitto_pub/sub and mqtt.js.
import assert from 'node:assert/strict'
import { execFile, spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type TestContext, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import mqtt from 'mqtt'
import { parsePasswordFile } from '../../src/auth/password-file.ts'
import { hashPassword, verifyPassword } from '../../src/auth/password-hash.ts'
import { startServer } from '../../src/main/server.ts'
import { parseExposition, sumOf } from '../helpers/prom-text.ts'
import { startTestServer, type TestServer } from '../helpers/server.ts'

const root = fileURLToPath(new URL('../..', import.meta.url))
const node = join(root, 'node_modules/.bin/node')
const has = (cmd: string, arg: string) => spawnSync(cmd, [arg]).error === undefined
// CI installs mosquitto and mosquitto-clients (.ci/run): never skip there
const skipTools =
  (!has('mosquitto_passwd', '-h') || !has('mosquitto_pub', '--help')) && !process.env.CI
    ? 'mosquitto_passwd / mosquitto_pub are not installed (apt-get install mosquitto mosquitto-clients)'
    : false

function tempDir(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'mqttd-auth-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

function run(
  cmd: string,
  args: string[],
  input?: string,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = execFile(cmd, args, { timeout: 120_000 }, (err, stdout, stderr) =>
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    )
    child.stdin?.end(input)
  })
}

/** `mqttd passwd FILE USER` through the real CLI, the password on stdin. */
async function mqttdPasswd(file: string, user: string, password: string): Promise<void> {
  const result = await run(node, [join(root, 'bin/mqttd.js'), 'passwd', file, user], `${password}\n`)
  assert.equal(result.code, 0, result.stderr)
}

async function authServer(t: TestContext, auth: Record<string, unknown>): Promise<TestServer> {
  return startTestServer(t, {
    workers: 2,
    broker: true,
    admin: true,
    config: { auth } as never,
  })
}

function connect(server: TestServer, options: mqtt.IClientOptions): Promise<mqtt.MqttClient> {
  return mqtt.connectAsync(server.url(), { reconnectPeriod: 0, protocolVersion: 5, ...options })
}

function refusal(server: TestServer, options: mqtt.IClientOptions): Promise<number | undefined> {
  return connect(server, options).then(
    async (c) => {
      await c.endAsync()
      return undefined
    },
    (err: { code?: number }) => err.code,
  )
}

/** The SUBACK's codes (mqtt.js rejects when one is a failure; the packet has them all). */
function subackCodes(client: mqtt.MqttClient, topics: string[], qos: 0 | 1): Promise<number[]> {
  return client.subscribeAsync(topics, { qos }).then(
    (granted) => granted.map((g) => g.qos),
    (err: { packet?: { granted?: number[] } }) => err.packet?.granted ?? [],
  )
}

async function failures(server: TestServer): Promise<Record<string, number>> {
  const text = await (await fetch(`http://127.0.0.1:${server.admin!.port}/metrics`)).text()
  const exposition = parseExposition(text)
  const out: Record<string, number> = {}
  for (const reason of ['anonymous', 'unknown_user', 'bad_password']) {
    out[reason] = sumOf(exposition, 'mqttd_auth_failures_total', { reason })
  }
  return out
}

// each spawns real processes (the CLI, mosquitto tools): minutes on a loaded 2-core machine
const slow = 300_000

test('password files from mosquitto_passwd and from `mqttd passwd` both authenticate mosquitto_pub -u -P and mqtt.js', {
  skip: skipTools,
  timeout: slow,
}, async (t) => {
  const dir = tempDir(t)
  const file = join(dir, 'passwd')
  // Debian's tool writes alice ($7$) and bob ($6$); mqttd passwd adds carol to the same file
  for (const args of [
    ['-c', '-b', file, 'alice', 'alice-pw'],
    ['-H', 'sha512', '-b', file, 'bob', 'bob-pw'],
  ]) {
    const r = spawnSync('mosquitto_passwd', args, { encoding: 'utf8' })
    assert.equal(r.status, 0, r.stderr)
  }
  await mqttdPasswd(file, 'carol', 'carol-pw')
  const server = await authServer(t, { passwordFile: file, allowAnonymous: false })

  for (const [user, password] of [
    ['alice', 'alice-pw'],
    ['bob', 'bob-pw'],
    ['carol', 'carol-pw'],
  ] as const) {
    for (const version of ['mqttv311', 'mqttv5']) {
      const ok = await run('mosquitto_pub', [
        ...['-h', '127.0.0.1', '-p', String(server.port()), '-V', version],
        ...['-u', user, '-P', password, '-t', `t/${user}`, '-m', 'x', '-q', '1'],
      ])
      assert.equal(ok.code, 0, `${user} ${version}: ${ok.stderr}`)
    }
    const client = await connect(server, { username: user, password })
    await client.endAsync()
    assert.equal(await refusal(server, { username: user, password: `${password}!` }), 0x86)
  }
  const wrong = await run('mosquitto_pub', [
    ...['-h', '127.0.0.1', '-p', String(server.port()), '-V', 'mqttv311'],
    ...['-u', 'alice', '-P', 'nope', '-t', 't', '-m', 'x'],
  ])
  assert.notEqual(wrong.code, 0)
  assert.match(wrong.stderr, /not authori[sz]ed|bad user name or password/i)
  assert.equal(await refusal(server, { username: 'mallory', password: 'x' }), 0x86)
  assert.equal(await refusal(server, {}), 0x87)
  // 3.1.1: CONNACK return code 5 (not authorized) for an anonymous client
  assert.equal(await refusal(server, { protocolVersion: 4 }), 5)
  assert.deepEqual(await failures(server), { anonymous: 2, unknown_user: 1, bad_password: 4 })
})

test('ACL rules: write, read, deny and %u/%c patterns on PUBLISH, SUBSCRIBE and delivery', async (t) => {
  const dir = tempDir(t)
  const passwd = join(dir, 'passwd')
  writeFileSync(passwd, `alice:${await hashPassword('pw', 10)}\nbob:${await hashPassword('pw', 10)}\n`)
  const acl = join(dir, 'acl')
  writeFileSync(
    acl,
    [
      'user alice',
      'topic readwrite room/#',
      'topic deny room/secret',
      'topic write sensors/#',
      'user bob',
      'topic read room/#',
      'topic read sensors/#',
      'pattern readwrite users/%u/#',
      'pattern write devices/%c/state',
      '',
    ].join('\n'),
  )
  const server = await authServer(t, { passwordFile: passwd, aclFile: acl })
  const alice = await connect(server, { username: 'alice', password: 'pw', clientId: 'dev-a' })
  const bob = await connect(server, { username: 'bob', password: 'pw', clientId: 'dev-b' })
  t.after(() => Promise.all([alice.endAsync(), bob.endAsync()]))

  // SUBSCRIBE: an exact topic the client may not read is refused per filter; wildcards are granted
  assert.deepEqual(
    await subackCodes(bob, ['room/#', 'users/alice/inbox', 'users/bob/inbox', 'devices/#'], 1),
    [1, 0x87, 1, 1],
  )
  const received: string[] = []
  bob.on('message', (topic) => received.push(topic))

  // PUBLISH: v5 PUBACK 0x87 for a topic alice may not write
  const denied = await alice.publishAsync('room/secret', 'x', { qos: 1 }).then(
    () => 0,
    (err: { code?: number }) => err.code,
  )
  assert.equal(denied, 0x87)
  const readOnly = await bob.publishAsync('room/a', 'x', { qos: 1 }).then(
    () => 0,
    (err: { code?: number }) => err.code,
  )
  assert.equal(readOnly, 0x87, 'bob may only read room/#')

  // delivery: bob gets room/a and users/bob/inbox, not devices/dev-b/state published by alice (%c)
  await alice.publishAsync('room/a', '1', { qos: 1 })
  await alice.publishAsync('devices/dev-a/state', 'on', { qos: 1 })
  const otherDevice = await alice.publishAsync('devices/dev-b/state', 'x', { qos: 1 }).then(
    () => 0,
    (err: { code?: number }) => err.code,
  )
  assert.equal(otherDevice, 0x87, '%c: alice (client dev-a) may not write devices/dev-b/state')
  const bobOwn = await bob.publishAsync('users/bob/inbox', 'hi', { qos: 1 }).then(
    () => 0,
    (err: { code?: number }) => err.code,
  )
  assert.equal(bobOwn, 0, '%u: bob may write users/bob/#')
  // bob subscribed devices/# but may not read devices/dev-a/state: the sentinel comes, the message not
  await alice.publishAsync('room/end', 'sentinel', { qos: 1 })
  await new Promise<void>((resolve) => {
    const check = () => (received.includes('room/end') ? resolve() : setTimeout(check, 10))
    check()
  })
  assert.deepEqual(received, ['room/a', 'users/bob/inbox', 'room/end'])

  // 3.1.1 subscriber: the refused filter gets 0x80
  const v3 = await connect(server, { username: 'bob', password: 'pw', protocolVersion: 4 })
  t.after(() => v3.endAsync())
  assert.deepEqual(await subackCodes(v3, ['users/alice/inbox', 'room/x'], 0), [0x80, 0])
  const text = await (await fetch(`http://127.0.0.1:${server.admin!.port}/metrics`)).text()
  const exposition = parseExposition(text)
  assert.equal(sumOf(exposition, 'mqttd_acl_denied_total', { action: 'publish' }), 3)
  assert.equal(sumOf(exposition, 'mqttd_acl_denied_total', { action: 'subscribe' }), 2)
})

test('start-up refusals: a non-loopback listener without auth, a non-loopback admin without a token', async () => {
  const base = { workers: 1, broker: false, log: { level: 'silent' as const } }
  await assert.rejects(
    startServer({
      ...base,
      listeners: [{ name: 'open', type: 'tcp', host: '0.0.0.0', port: 0 }],
      admin: { enabled: false },
    }),
    (err: Error & { code?: string }) => {
      assert.equal(err.code, 'MQTTD_ERR_AUTH_REQUIRED')
      assert.match(err.message, /Listener open binds 0\.0\.0\.0 without authentication/)
      return true
    },
  )
  await assert.rejects(
    startServer({
      ...base,
      listeners: [{ type: 'tcp', host: '127.0.0.1', port: 0 }],
      admin: { host: '::', port: 0 },
    }),
    { code: 'MQTTD_ERR_ADMIN_TOKEN_REQUIRED' },
  )
})

test('mqttd --check: the refusal says how to allow it; the explicit opt-outs pass', {
  timeout: slow,
}, async (t) => {
  const dir = tempDir(t)
  const config = join(dir, 'mqttd.yaml')
  writeFileSync(
    config,
    'listeners:\n  - { name: mqtt, type: tcp, host: 0.0.0.0, port: 1883 }\nadmin: { host: 0.0.0.0 }\n',
  )
  const refused = await run(node, [join(root, 'bin/mqttd.js'), '--config', config, '--check'])
  assert.equal(refused.code, 1)
  assert.match(
    refused.stderr,
    /MQTTD_ERR_AUTH_REQUIRED: Listener mqtt binds 0\.0\.0\.0 without authentication/,
  )
  assert.match(refused.stderr, /auth\.allowAnonymous: true/)
  writeFileSync(
    config,
    'listeners:\n  - { name: mqtt, type: tcp, host: 0.0.0.0, port: 1883 }\nadmin: { host: 0.0.0.0 }\nauth: { allowAnonymous: true }\n',
  )
  const admin = await run(node, [join(root, 'bin/mqttd.js'), '--config', config, '--check'])
  assert.equal(admin.code, 1)
  assert.match(admin.stderr, /MQTTD_ERR_ADMIN_TOKEN_REQUIRED: The admin API binds 0\.0\.0\.0 without a token/)
  assert.match(admin.stderr, /admin\.allowNoToken: true/)
  for (const fix of ['  allowNoToken: true']) {
    writeFileSync(
      config,
      `listeners:\n  - { name: mqtt, type: tcp, host: 0.0.0.0, port: 1883 }\nauth: { allowAnonymous: true }\nadmin:\n  host: 0.0.0.0\n${fix}\n`,
    )
    const ok = await run(node, [join(root, 'bin/mqttd.js'), '--config', config, '--check'])
    assert.equal(ok.code, 0, ok.stderr)
  }
})

test('a bad password file stops start-up naming the file and line', async (t) => {
  const dir = tempDir(t)
  const file = join(dir, 'passwd')
  writeFileSync(file, '# ok\nalice:plaintext\n')
  await assert.rejects(
    startServer({
      workers: 1,
      listeners: [{ type: 'tcp', port: 0 }],
      admin: { enabled: false },
      log: { level: 'silent' },
      auth: { passwordFile: file },
    }),
    (err: Error & { code?: string }) => {
      assert.equal(err.code, 'MQTTD_ERR_AUTH_FILE')
      assert.match(err.message, /password file .*passwd: line 2: user "alice"/)
      return true
    },
  )
})

test('mqttd passwd without a terminal reads stdin, creates the file 0600, keeps other lines; usage errors are coded', {
  timeout: slow,
}, async (t) => {
  const dir = tempDir(t)
  const file = join(dir, 'passwd')
  const empty = await run(node, [join(root, 'bin/mqttd.js'), 'passwd', file, 'u'], '\n')
  assert.equal(empty.code, 1)
  assert.match(empty.stderr, /MQTTD_ERR_CLI_USAGE: .*the password is empty/)
  const usage = await run(node, [join(root, 'bin/mqttd.js'), 'passwd', file], 'x\n')
  assert.equal(usage.code, 1)
  assert.match(usage.stderr, /MQTTD_ERR_CLI_USAGE/)
  await mqttdPasswd(file, 'u', 'first')
  assert.equal(statSync(file).mode & 0o777, 0o600)
  writeFileSync(file, `# team\n${readFileSync(file, 'utf8')}`)
  await mqttdPasswd(file, 'v', 'second')
  await mqttdPasswd(file, 'u', 'third')
  const lines = readFileSync(file, 'utf8').trimEnd().split('\n')
  assert.equal(lines[0], '# team')
  assert.deepEqual(
    lines.slice(1).map((l) => l.split(':')[0]),
    ['u', 'v'],
  )
  const users = parsePasswordFile(readFileSync(file, 'utf8'))
  assert.equal(await verifyPassword(Buffer.from('third'), users.get('u')!), true)
  assert.equal(await verifyPassword(Buffer.from('second'), users.get('v')!), true)
})
