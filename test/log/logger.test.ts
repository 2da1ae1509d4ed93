import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { packetSummary } from '../../src/log/logger.ts'

const root = fileURLToPath(new URL('../..', import.meta.url))

test('packetSummary drops the password and, unless asked, the payloads (will included)', () => {
  const connect = {
    cmd: 'connect',
    clientId: 'c',
    username: 'u',
    password: Buffer.from('pw'),
    will: { topic: 'w', payload: Buffer.from('bye'), qos: 0 },
  }
  assert.deepEqual(packetSummary(connect, false), {
    cmd: 'connect',
    clientId: 'c',
    username: 'u',
    will: { topic: 'w', qos: 0, payloadBytes: 3 },
  })
  const publish = { cmd: 'publish', topic: 't', payload: Buffer.from('héllo'), qos: 1 }
  assert.deepEqual(packetSummary(publish, false), { cmd: 'publish', topic: 't', payloadBytes: 6, qos: 1 })
  assert.deepEqual(packetSummary(publish, true), { cmd: 'publish', topic: 't', payload: 'héllo', qos: 1 })
  assert.equal(
    packetSummary({ cmd: 'publish', payload: Buffer.from([0xff, 0x00]) }, true).payload,
    'base64:/wA=',
  )
})

test('log.pretty (MQTTD_LOG_PRETTY=true): human-readable lines instead of JSON', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'mqttd-pretty-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  const file = join(dir, 'mqttd.yaml')
  writeFileSync(
    file,
    'workers: 1\nlisteners: [{ type: tcp, port: 0 }]\nadmin: { enabled: false }\nbroker: false\n',
  )
  const child = spawn(join(root, 'node_modules/.bin/node'), [join(root, 'bin/mqttd.js'), '--config', file], {
    env: { ...process.env, MQTTD_LOG_PRETTY: 'true' },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  t.after(() => {
    if (child.exitCode === null) child.kill('SIGKILL')
  })
  let out = ''
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (b) => {
      out += b
      if (out.includes('mqttd listening')) resolve()
    })
    child.once('exit', () => reject(new Error(`exited early:\n${out}`)))
  })
  child.kill('SIGTERM')
  assert.equal(await new Promise((r) => child.once('exit', r)), 0)
  const lines = out.split('\n').filter((l) => l.trim() !== '')
  assert.ok(
    lines.some((l) => /INFO.*: mqttd listening: tcp:\/\/127\.0\.0\.1:\d+/.test(l)),
    out,
  )
  assert.ok(
    lines.every((l) => !l.startsWith('{')),
    'no JSON line',
  )
})
