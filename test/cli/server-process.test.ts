// The real `mqttd` process: its JSON log lines (start-up, connect, close, subscribe, packets) and
// reload by SIGHUP and POST /reload (password file, TLS certificate, admin token, a bad config).
import assert from 'node:assert/strict'
import { type ChildProcess, spawn, spawnSync } from 'node:child_process'
import { X509Certificate } from 'node:crypto'
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { connect as tlsConnect } from 'node:tls'
import { fileURLToPath } from 'node:url'
import mqtt from 'mqtt'
import { stringify } from 'yaml'
import { hashPassword } from '../../src/auth/password-hash.ts'
import { tlsFiles } from '../helpers/tls.ts'

const root = fileURLToPath(new URL('../..', import.meta.url))
const node = join(root, 'node_modules/.bin/node')
const hasOpenssl = spawnSync('openssl', ['version']).error === undefined
const skip = !hasOpenssl && !process.env.CI ? 'openssl is not installed' : false

type Line = Record<string, unknown> & { msg?: string; level: number }

/** Collects the process's stdout as parsed JSON lines; `waitFor` resolves with the first line matching. */
function logOf(child: ChildProcess) {
  const lines: Line[] = []
  const raw: string[] = []
  let rest = ''
  const waiters: Array<{ match: (l: Line) => boolean; resolve: (l: Line) => void }> = []
  child.stdout!.on('data', (chunk: Buffer) => {
    rest += chunk.toString('utf8')
    const parts = rest.split('\n')
    rest = parts.pop()!
    for (const text of parts) {
      if (text === '') continue
      raw.push(text)
      const line = JSON.parse(text) as Line
      lines.push(line)
      for (const w of [...waiters]) {
        if (w.match(line)) {
          waiters.splice(waiters.indexOf(w), 1)
          w.resolve(line)
        }
      }
    }
  })
  return {
    lines,
    raw,
    waitFor(match: (l: Line) => boolean, what: string, timeoutMs = 90_000): Promise<Line> {
      const found = lines.find(match)
      if (found !== undefined) return Promise.resolve(found)
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`no log line: ${what}\n${raw.join('\n')}`)),
          timeoutMs,
        )
        waiters.push({
          match,
          resolve: (l) => {
            clearTimeout(timer)
            resolve(l)
          },
        })
      })
    },
  }
}

function makeCert(dir: string, name: string): { key: string; cert: string } {
  const key = join(dir, `${name}-key.pem`)
  const cert = join(dir, `${name}.pem`)
  const r = spawnSync(
    'openssl',
    [
      ...['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'],
      ...['-subj', `/CN=${name}`, '-days', '2', '-keyout', key, '-out', cert],
    ],
    { encoding: 'utf8' },
  )
  assert.equal(r.status, 0, r.stderr)
  return { key, cert }
}

/** The SHA-256 fingerprint of the certificate a new TLS connection to `port` is served. */
function servedFingerprint(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({ host: '127.0.0.1', port, rejectUnauthorized: false, ALPNProtocols: ['mqtt'] })
    socket.once('secureConnect', () => {
      resolve(socket.getPeerX509Certificate()!.fingerprint256)
      socket.destroy()
    })
    socket.once('error', reject)
  })
}

test('mqttd process: log lines for start-up, connect, subscribe, packets and close; SIGHUP and POST /reload apply live, a bad config is refused', {
  skip,
  // one real process through many steps: minutes on a loaded 2-core machine
  timeout: 300_000,
}, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'mqttd-proc-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  const passwd = join(dir, 'passwd')
  writeFileSync(
    passwd,
    `alice:${await hashPassword('alice-pw', 10)}\nbob:${await hashPassword('bob-pw', 10)}\n`,
  )
  copyFileSync(tlsFiles.key, join(dir, 'key.pem'))
  copyFileSync(tlsFiles.cert, join(dir, 'cert.pem'))
  const config = (token: string) => ({
    workers: 2,
    listeners: [
      { name: 'mqtt', type: 'tcp', host: '127.0.0.1', port: 0 },
      { name: 'web', type: 'ws', host: '127.0.0.1', port: 0, path: '/mqtt-ws' },
      { name: 'secure', type: 'tls', host: '127.0.0.1', port: 0, key: './key.pem', cert: './cert.pem' },
    ],
    admin: { host: '127.0.0.1', port: 0, token },
    auth: { passwordFile: './passwd', allowAnonymous: false },
    log: { level: 'trace' },
    shutdown: { drainTimeoutMs: 2000 },
  })
  const configFile = join(dir, 'mqttd.yaml')
  writeFileSync(configFile, stringify(config('token-1')))

  const child = spawn(node, [join(root, 'bin/mqttd.js'), '--config', configFile], {
    cwd: dir,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, MQTTD_LOG_PRETTY: 'false' },
  })
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve))
  t.after(() => {
    if (child.exitCode === null) child.kill('SIGKILL')
  })
  const log = logOf(child)

  // start-up: config loaded first, listening with the WS path, a labelled admin line
  const listening = await log.waitFor((l) => String(l.msg).startsWith('mqttd listening'), 'listening')
  const bound = listening.listeners as Array<{ name: string; port: number }>
  const port = (name: string) => bound.find((l) => l.name === name)!.port
  const admin = listening.admin as { port: number }
  assert.match(String(listening.msg), new RegExp(`ws://127\\.0\\.0\\.1:${port('web')}/mqtt-ws`))
  assert.match(String(listening.msg), new RegExp(`tcp://127\\.0\\.0\\.1:${port('mqtt')}[,;]`))
  const order = (msg: string) => log.lines.findIndex((l) => String(l.msg).startsWith(msg))
  assert.ok(order('config loaded') >= 0 && order('config loaded') < order('mqttd listening'))
  const adminLine = log.lines.find((l) => String(l.msg).startsWith('admin API listening at'))
  assert.equal(adminLine?.component, 'admin')
  assert.ok(
    log.lines.every((l) => typeof l.msg === 'string' && l.msg !== ''),
    'every line says what it is',
  )

  const url = `mqtt://127.0.0.1:${port('mqtt')}`
  const adminUrl = (path: string) => `http://127.0.0.1:${admin.port}${path}`

  // a client's life in the log
  const alice = await mqtt.connectAsync(url, {
    protocolVersion: 5,
    clientId: 'log-client',
    username: 'alice',
    password: 'alice-pw',
    keepalive: 30,
    reconnectPeriod: 0,
  })
  await alice.subscribeAsync('a/b', { qos: 1 })
  await alice.publishAsync('a/b', 'payload-not-logged', { qos: 1 })
  await alice.endAsync()
  const connected = await log.waitFor(
    (l) => l.msg === 'client connected' && l.clientId === 'log-client',
    'connect line',
  )
  assert.equal(connected.level, 30)
  assert.equal(connected.remote, '127.0.0.1')
  assert.equal(typeof connected.remotePort, 'number')
  assert.equal(connected.listener, 'mqtt')
  assert.equal(connected.transport, 'tcp')
  assert.equal(connected.protocolVersion, 5)
  assert.equal(connected.keepalive, 30)
  assert.equal(connected.cleanStart, true)
  assert.equal(connected.username, 'alice')
  const closed = await log.waitFor(
    (l) => l.msg === 'client closed' && l.clientId === 'log-client',
    'close line',
  )
  assert.equal(closed.level, 30)
  assert.equal(closed.reason, 'client-disconnect')
  assert.equal(closed.reasonCode, 0)
  assert.equal(typeof closed.durationMs, 'number')
  assert.ok((closed.bytesIn as number) > 0 && (closed.bytesOut as number) > 0)
  const subscribed = await log.waitFor(
    (l) => l.msg === 'subscribe' && l.clientId === 'log-client',
    'subscribe',
  )
  assert.equal(subscribed.level, 20)
  assert.deepEqual(subscribed.filters, [{ topic: 'a/b', qos: 1 }])
  const publishIn = await log.waitFor(
    (l) => l.msg === 'packet in' && (l.packet as { cmd?: string })?.cmd === 'publish',
    'trace line',
  )
  assert.equal(publishIn.level, 10)
  assert.equal((publishIn.packet as { payloadBytes: number }).payloadBytes, 'payload-not-logged'.length)
  await log.waitFor(
    (l) => l.msg === 'packet in' && (l.packet as { cmd?: string })?.cmd === 'connect',
    'connect in',
  )
  const all = log.raw.join('\n')
  assert.ok(!all.includes('alice-pw'), 'the password is never logged')
  assert.ok(!all.includes('payload-not-logged'), 'payloads only with log.payloads')
  assert.ok(!all.includes('token-1'), 'the admin token is never logged')

  // a client that must survive every reload
  const bob = await mqtt.connectAsync(url, {
    protocolVersion: 5,
    username: 'bob',
    password: 'bob-pw',
    reconnectPeriod: 0,
  })
  t.after(() => bob.end(true))
  let bobClosed = false
  bob.on('close', () => {
    bobClosed = true
  })
  await bob.subscribeAsync('still/here', { qos: 1 })
  const roundTrip = async (label: string) => {
    const got = new Promise<string>((resolve) => bob.once('message', (_t, p) => resolve(p.toString())))
    await bob.publishAsync('still/here', label, { qos: 1 })
    assert.equal(await got, label)
    assert.equal(bobClosed, false)
  }

  // SIGHUP with a changed password file: carol gets in, bob stays
  const refused = await mqtt
    .connectAsync(url, { protocolVersion: 5, username: 'carol', password: 'carol-pw', reconnectPeriod: 0 })
    .then(
      () => 0,
      (err: { code?: number }) => err.code,
    )
  assert.equal(refused, 0x86)
  writeFileSync(passwd, `${readFileSync(passwd, 'utf8')}carol:${await hashPassword('carol-pw', 10)}\n`)
  child.kill('SIGHUP')
  const reloaded = await log.waitFor((l) => l.msg === 'config reloaded', 'SIGHUP reload')
  assert.deepEqual(reloaded.applied, ['auth.passwordFile'])
  assert.deepEqual(reloaded.restartNeeded, [])
  const carol = await mqtt.connectAsync(url, {
    protocolVersion: 5,
    username: 'carol',
    password: 'carol-pw',
    reconnectPeriod: 0,
  })
  await carol.endAsync()
  await roundTrip('after-sighup')

  // POST /reload: a new certificate for new TLS connections, a new admin token, a log level
  const before = await servedFingerprint(port('secure'))
  assert.equal(before, new X509Certificate(readFileSync(tlsFiles.cert)).fingerprint256)
  const fresh = makeCert(dir, 'rotated')
  copyFileSync(fresh.key, join(dir, 'key.pem'))
  copyFileSync(fresh.cert, join(dir, 'cert.pem'))
  writeFileSync(configFile, stringify({ ...config('token-2'), log: { level: 'debug' }, workers: 3 }))
  assert.equal((await fetch(adminUrl('/reload'), { method: 'POST' })).status, 401)
  const res = await fetch(adminUrl('/reload'), {
    method: 'POST',
    headers: { authorization: 'Bearer token-1' },
  })
  assert.equal(res.status, 200)
  const report = (await res.json()) as { applied: string[]; restartNeeded: string[]; file: string }
  assert.deepEqual(report.applied.sort(), ['admin.token', 'listeners.secure.tls', 'log.level'])
  assert.deepEqual(report.restartNeeded, ['workers'])
  assert.equal(report.file, configFile)
  assert.equal(
    await servedFingerprint(port('secure')),
    new X509Certificate(readFileSync(fresh.cert)).fingerprint256,
  )
  assert.equal(
    (await fetch(adminUrl('/workers'), { headers: { authorization: 'Bearer token-1' } })).status,
    401,
  )
  assert.equal(
    (await fetch(adminUrl('/workers'), { headers: { authorization: 'Bearer token-2' } })).status,
    200,
  )
  await roundTrip('after-post-reload')

  // a bad config is refused with its errors; the server keeps running on the old one
  writeFileSync(configFile, 'listeners: 5\n')
  child.kill('SIGHUP')
  const refusedLine = await log.waitFor((l) => String(l.msg).startsWith('reload refused'), 'refused reload')
  assert.equal(refusedLine.level, 50)
  assert.match(JSON.stringify(refusedLine.err), /MQTTD_ERR_CONFIG_INVALID.*listeners: must be array/)
  const bad = await fetch(adminUrl('/reload'), {
    method: 'POST',
    headers: { authorization: 'Bearer token-2' },
  })
  assert.equal(bad.status, 409)
  const body = (await bad.json()) as { code: string; message: string }
  assert.equal(body.code, 'MQTTD_ERR_RELOAD')
  assert.match(body.message, /running configuration stays.*listeners: must be array/s)
  // a removed password file is refused too
  writeFileSync(configFile, stringify({ ...config('token-2'), auth: { passwordFile: './missing' } }))
  const missing = await fetch(adminUrl('/reload'), {
    method: 'POST',
    headers: { authorization: 'Bearer token-2' },
  })
  assert.equal(missing.status, 409)
  assert.match(((await missing.json()) as { message: string }).message, /MQTTD_ERR_AUTH_FILE/)
  await roundTrip('after-bad-reload')
  const again = await mqtt.connectAsync(url, {
    protocolVersion: 4,
    username: 'alice',
    password: 'alice-pw',
    reconnectPeriod: 0,
  })
  await again.endAsync()

  await bob.endAsync()
  child.kill('SIGTERM')
  assert.equal(await exited, 0)
})
