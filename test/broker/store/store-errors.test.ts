import assert from 'node:assert/strict'
import { execFileSync, spawn } from 'node:child_process'
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'
import mqtt from 'mqtt'
import { durableDir, metricValue, startDurable } from './durable-server.ts'

const root = new URL('../../../', import.meta.url).pathname
const node = join(root, 'node_modules/.bin/node')
const bin = join(root, 'bin/mqttd.js')

function run(args: string[]): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(node, [bin, ...args], { stdio: ['ignore', 'ignore', 'pipe'] })
    let stderr = ''
    child.stderr.on('data', (b) => (stderr += b))
    child.on('close', (code) => resolve({ code, stderr }))
  })
}

/** A coded one-line error, no stack trace. */
function assertCoded(stderr: string, pattern: RegExp): void {
  assert.match(stderr, pattern)
  assert.doesNotMatch(stderr, /^\s+at /m, 'no stack trace')
}

test('a corrupt store file stops start-up with MQTTD_ERR_STORE_CORRUPT naming the file and how to recover, exit 1', async () => {
  const dir = durableDir('workers: 1\n')
  mkdirSync(join(dir, 'data'))
  const file = join(dir, 'data', 'mqttd.db')
  writeFileSync(file, Buffer.alloc(8192, 'not a database '))
  const result = await run(['--config', join(dir, 'mqttd.yaml')])
  assert.equal(result.code, 1)
  assertCoded(
    result.stderr,
    new RegExp(`MQTTD_ERR_STORE_CORRUPT: Persistent store ${file} cannot be opened: file is not a database`),
  )
  assert.match(result.stderr, /move the file and its -wal\/-shm files aside/)
})

test('an unusable persistence directory: MQTTD_ERR_STORE_DIR at start-up and from --check', async () => {
  const dir = durableDir('workers: 1\npersistence: { dir: blocker/data }\n')
  writeFileSync(join(dir, 'blocker'), 'a file where the directory should be')
  const expected = new RegExp(
    `MQTTD_ERR_STORE_DIR: Persistence directory ${join(dir, 'blocker/data')} is not usable`,
  )
  const check = await run(['--check', '--config', join(dir, 'mqttd.yaml')])
  assert.equal(check.code, 1)
  assertCoded(check.stderr, expected)
  const start = await run(['--config', join(dir, 'mqttd.yaml')])
  assert.equal(start.code, 1)
  assertCoded(start.stderr, expected)
})

test('a store in use by another live mqttd process: MQTTD_ERR_STORE_LOCKED', async (t) => {
  const dir = durableDir('workers: 1\n')
  const first = await startDurable(t, dir)
  const second = await run(['--config', join(dir, 'mqttd.yaml')])
  assert.equal(second.code, 1)
  assertCoded(
    second.stderr,
    new RegExp(
      `MQTTD_ERR_STORE_LOCKED: Persistent store ${join(dir, 'data/mqttd.db')} is in use: process ${first.child.pid} holds`,
    ),
  )
  first.child.kill('SIGTERM')
  assert.equal(await first.exited, 0)
})

test('persistence.maxBytes reached: v5 PUBACK 0x97, v3.1.1 publisher closed, new persistent session CONNACK 0x97, counted; other clients go on', async (t) => {
  const dir = durableDir('workers: 1\npersistence: { maxBytes: 65536 }\n')
  const server = await startDurable(t, dir)
  const sub = await mqtt.connectAsync(server.url, {
    clientId: 'cap-sub',
    protocolVersion: 5,
    clean: false,
    reconnectPeriod: 0,
    properties: { sessionExpiryInterval: 3600 },
  })
  await sub.subscribeAsync('cap/x', { qos: 1 })
  await sub.endAsync()
  const pub = await mqtt.connectAsync(server.url, { protocolVersion: 5, reconnectPeriod: 0 })
  const payload = Buffer.alloc(2048, 'x')
  let refused: { code?: number } | undefined
  let accepted = 0
  for (let i = 0; i < 200 && refused === undefined; i++) {
    try {
      await pub.publishAsync('cap/x', payload, { qos: 1 })
      accepted++
    } catch (err) {
      refused = err as { code?: number }
    }
  }
  assert.equal(refused?.code, 0x97, 'PUBACK Quota exceeded once the store is full')
  assert.ok(accepted > 0 && accepted < 64, `${accepted} publishes fit in 64 KiB`)

  const v4 = await mqtt.connectAsync(server.url, { protocolVersion: 4, reconnectPeriod: 0 })
  v4.on('error', () => {})
  const closed = new Promise<void>((resolve) => v4.once('close', () => resolve()))
  v4.publish('cap/x', payload, { qos: 1 })
  await closed

  const persistent = mqtt.connect(server.url, {
    clientId: 'cap-new',
    protocolVersion: 5,
    clean: false,
    reconnectPeriod: 0,
    properties: { sessionExpiryInterval: 60 },
  })
  const error = await new Promise<{ code?: number }>((resolve) =>
    persistent.once('error', (err) => resolve(err as { code?: number })),
  )
  assert.equal(error.code, 0x97, 'CONNACK Quota exceeded for a new persistent session')
  persistent.end(true)

  // QoS 0 and clean sessions go on
  const clean = await mqtt.connectAsync(server.url, { reconnectPeriod: 0 })
  await clean.publishAsync('cap/y', 'ok', { qos: 0 })
  await clean.endAsync()
  assert.ok(((await metricValue(server, /^mqttd_store_refused_total /)) ?? 0) >= 3)
  await pub.endAsync()
  server.child.kill('SIGTERM')
  assert.equal(await server.exited, 0)
})

test('a full disk refuses new messages (v5 PUBACK 0x97) instead of crashing; commit failures are counted', async (t) => {
  const dir = durableDir('workers: 1\n')
  const mountPoint = join(dir, 'data')
  mkdirSync(mountPoint)
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=512k', 'tmpfs', mountPoint], { stdio: 'ignore' })
  } catch {
    t.skip('cannot mount a small tmpfs here (needs root)')
    return
  }
  t.after(() => execFileSync('umount', ['-l', mountPoint], { stdio: 'ignore' }))
  const server = await startDurable(t, dir)
  t.after(() => {
    if (server.child.exitCode === null) server.child.kill('SIGKILL')
  })
  const sub = await mqtt.connectAsync(server.url, {
    clientId: 'disk-sub',
    protocolVersion: 5,
    clean: false,
    reconnectPeriod: 0,
    properties: { sessionExpiryInterval: 3600 },
  })
  await sub.subscribeAsync('disk/x', { qos: 1 })
  await sub.endAsync()
  const pub = await mqtt.connectAsync(server.url, { protocolVersion: 5, reconnectPeriod: 0 })
  const payload = Buffer.alloc(16 * 1024, 'x')
  let refused: { code?: number } | undefined
  for (let i = 0; i < 200 && refused === undefined; i++) {
    try {
      await pub.publishAsync('disk/x', payload, { qos: 1 })
    } catch (err) {
      refused = err as { code?: number }
    }
  }
  assert.equal(refused?.code, 0x97)
  assert.ok(((await metricValue(server, /^mqttd_store_commit_failures_total /)) ?? 0) >= 1)
  // A burst read in one chunk shares one group commit and one acknowledgement wait: each of its
  // publishes still gets its own 0x97 and is counted
  const before = (await metricValue(server, /^mqttd_store_refused_total /)) ?? 0
  const burst = await Promise.allSettled(
    Array.from({ length: 20 }, () => pub.publishAsync('disk/x', payload, { qos: 1 })),
  )
  assert.deepEqual(
    burst.map((r) => (r.status === 'rejected' ? (r.reason as { code?: number }).code : 'acknowledged')),
    Array.from({ length: 20 }, () => 0x97),
  )
  assert.ok(((await metricValue(server, /^mqttd_store_refused_total /)) ?? 0) >= before + 20)
  // The server is still up and serves others
  const other = await mqtt.connectAsync(server.url, { reconnectPeriod: 0 })
  await other.publishAsync('disk/y', 'still here', { qos: 0 })
  await other.endAsync()
  await pub.endAsync()
  server.child.kill('SIGTERM')
  await server.exited
})
