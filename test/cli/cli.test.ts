import assert from 'node:assert/strict'
import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { test } from 'node:test'
import mqtt from 'mqtt'

const root = new URL('../../', import.meta.url).pathname
const node = join(root, 'node_modules/.bin/node')
const bin = join(root, 'bin/mqttd.js')

function run(
  args: string[],
  env: NodeJS.ProcessEnv = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(node, [bin, ...args], { cwd: root, env: { ...process.env, ...env } })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (b) => (stdout += b))
    child.stderr.on('data', (b) => (stderr += b))
    child.on('close', (code) => resolve({ code, stdout, stderr }))
  })
}

function configFile(text: string, name = 'mqttd.yaml'): string {
  const file = join(mkdtempSync(join(tmpdir(), 'mqttd-cli-')), name)
  writeFileSync(file, text)
  return file
}

test('--help and --version', async () => {
  const help = await run(['--help'])
  assert.equal(help.code, 0)
  assert.match(help.stdout, /Usage: mqttd/)
  assert.match(help.stdout, /--print-config/)
  const version = await run(['--version'])
  assert.equal(version.code, 0)
  assert.equal(version.stdout.trim(), JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).version)
})

test('an unknown option exits non-zero with a coded usage error', async () => {
  const result = await run(['--bogus'])
  assert.equal(result.code, 1)
  assert.match(result.stderr, /MQTTD_ERR_CLI_USAGE: Invalid command line: Unknown option '--bogus'/)
})

test('--check accepts a valid config and exits 0', async () => {
  const file = configFile('workers: 1\nlisteners:\n  - { type: tcp, port: 0 }\nbroker: false\n')
  const result = await run(['--check', '--config', file])
  assert.equal(result.stderr, '')
  assert.equal(result.code, 0)
  assert.match(result.stdout, /is valid/)
})

test('--check reports every config error with its path and exits 1', async () => {
  const file = configFile('workers: 0\nlisteners:\n  - { type: tcp, port: 70000, colour: red }\n')
  const result = await run(['--check', '--config', file])
  assert.equal(result.code, 1)
  assert.match(result.stderr, /MQTTD_ERR_CONFIG_INVALID: Invalid configuration in .*mqttd\.yaml:/)
  assert.match(result.stderr, /^workers: must be >= 1$/m)
  assert.match(result.stderr, /^listeners\[0\]\.colour: unknown key$/m)
  assert.match(result.stderr, /^listeners\[0\]\.port: must be <= 65535$/m)
})

test('--check loads the handler modules and reads the TLS files', async () => {
  const handler = configFile('export default { onConect() {} }\n', 'handler.ts')
  const bad = configFile(
    `listeners: [{ type: tcp, port: 0 }]\nbroker: false\nhandlers: [${JSON.stringify(handler)}]\n`,
  )
  const badHandler = await run(['--check', '--config', bad])
  assert.equal(badHandler.code, 1)
  assert.match(
    badHandler.stderr,
    /MQTTD_ERR_HANDLER_SHAPE: Handler module .*handler\.ts is not a valid handler: unknown key "onConect"/,
  )
  const tls = configFile(
    'listeners: [{ type: tls, port: 0, key: ./missing-key.pem, cert: ./missing-cert.pem }]\nbroker: false\n',
  )
  const badTls = await run(['--check', '--config', tls])
  assert.equal(badTls.code, 1)
  assert.match(badTls.stderr, /MQTTD_ERR_TLS_FILE: Cannot read TLS key .*missing-key\.pem for listener tls-0/)
})

test('a missing config file exits 1 with MQTTD_ERR_CONFIG_READ', async () => {
  const result = await run(['--config', '/nonexistent/mqttd.yaml'])
  assert.equal(result.code, 1)
  assert.match(result.stderr, /MQTTD_ERR_CONFIG_READ: Cannot read config file \/nonexistent\/mqttd\.yaml/)
})

test('--print-config prints the effective config with defaults and environment overrides', async () => {
  const result = await run(['--print-config', '--json'], { MQTTD_WORKERS: '3', MQTTD_LOG_LEVEL: 'debug' })
  assert.equal(result.code, 0)
  const config = JSON.parse(result.stdout)
  assert.equal(config.workers, 3)
  assert.equal(config.log.level, 'debug')
  assert.deepEqual(
    config.listeners.map((l: { type: string; port: number }) => `${l.type}:${l.port}`),
    ['tcp:1883', 'ws:8083'],
  )
  assert.equal(config.admin.host, '127.0.0.1')
  const yaml = await run(['--print-config'])
  assert.match(yaml.stdout, /^workers: \d+$/m)
  assert.match(yaml.stdout, /drainTimeoutMs: 30000/)
})

interface Started {
  child: ChildProcess
  listeners: Array<{ name: string; type: string; port: number }>
  lines: Array<Record<string, unknown>>
  exited: Promise<number | null>
}

async function startCli(t: import('node:test').TestContext, yaml: string): Promise<Started> {
  const child = spawn(node, [bin, '--config', configFile(yaml)], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)))
  t.after(() => {
    if (child.exitCode === null) child.kill('SIGKILL')
  })
  const lines: Array<Record<string, unknown>> = []
  let stderr = ''
  child.stderr!.on('data', (b) => (stderr += b))
  const listeners = await new Promise<Started['listeners']>((resolve, reject) => {
    const rl = createInterface({ input: child.stdout! })
    rl.on('line', (line) => {
      try {
        const entry = JSON.parse(line) as Record<string, unknown>
        lines.push(entry)
        if (String(entry.msg).startsWith('mqttd listening')) resolve(entry.listeners as Started['listeners'])
      } catch {}
    })
    child.once('exit', (code) => reject(new Error(`mqttd exited with ${code} before listening: ${stderr}`)))
  })
  return { child, listeners, lines, exited }
}

test('SIGTERM drains: an MQTT 5 client gets DISCONNECT 0x8B, a 3.1.1 client is closed, the process exits 0', async (t) => {
  const started = await startCli(
    t,
    'workers: 2\nlisteners: [{ name: mqtt, type: tcp, host: 127.0.0.1, port: 0 }]\nbroker: false\nadmin: { enabled: false }\nshutdown: { drainTimeoutMs: 5000 }\n',
  )
  const start = started.lines.find((l) => String(l.msg).startsWith('mqttd listening'))!
  assert.equal(start.workers, 2)
  assert.deepEqual(start.handlers, [])
  const url = `mqtt://127.0.0.1:${started.listeners[0]!.port}`
  const v5 = await mqtt.connectAsync(url, { protocolVersion: 5, reconnectPeriod: 0 })
  const v4 = await mqtt.connectAsync(url, { protocolVersion: 4, reconnectPeriod: 0 })
  const disconnect = new Promise<{ reasonCode?: number; properties?: { reasonString?: string } }>((resolve) =>
    v5.once('disconnect', resolve),
  )
  const v4Closed = new Promise<void>((resolve) => v4.once('close', () => resolve()))
  started.child.kill('SIGTERM')
  const packet = await disconnect
  assert.equal(packet.reasonCode, 0x8b)
  assert.equal(packet.properties?.reasonString, 'Server shutting down')
  await v4Closed
  assert.equal(await started.exited, 0)
  v5.end(true)
  v4.end(true)
})

test('a second signal exits at once', async (t) => {
  const started = await startCli(
    t,
    'workers: 1\nlisteners: [{ type: tcp, port: 0 }]\nbroker: false\nadmin: { enabled: false }\nhandlers: [' +
      JSON.stringify(new URL('../fixtures/handlers/slow-shutdown.ts', import.meta.url).pathname) +
      ']\nshutdown: { drainTimeoutMs: 20000 }\n',
  )
  assert.ok(started.listeners.length === 1)
  started.child.kill('SIGTERM')
  await new Promise((r) => setTimeout(r, 300))
  started.child.kill('SIGTERM')
  const before = Date.now()
  assert.equal(await started.exited, 1)
  assert.ok(Date.now() - before < 5000, 'did not wait for the drain')
})

test('a port already in use stops start-up with MQTTD_ERR_LISTEN naming the listener, exit 1', async (t) => {
  const { createServer } = await import('node:net')
  const taken = createServer()
  await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve))
  t.after(() => taken.close())
  const port = (taken.address() as import('node:net').AddressInfo).port
  const file = configFile(
    `workers: 1\nlisteners: [{ name: busy, type: tcp, host: 127.0.0.1, port: ${port} }]\nbroker: false\nadmin: { enabled: false }\n`,
  )
  const result = await run(['--config', file])
  assert.equal(result.code, 1)
  assert.match(
    result.stderr,
    new RegExp(`MQTTD_ERR_LISTEN: Cannot listen for listener busy on 127\\.0\\.0\\.1:${port}: .*EADDRINUSE`),
  )
})
