import assert from 'node:assert/strict'
import { test } from 'node:test'
import mqtt from 'mqtt'
import { handlerProblems } from '../../src/handlers/loader.ts'
import { startServer } from '../../src/main/server.ts'
import { collectEvents } from '../helpers/events.ts'
import { startTestServer } from '../helpers/server.ts'

const fixture = (name: string) => new URL(`../fixtures/handlers/${name}`, import.meta.url).pathname

async function startFailure(handlers: string[], baseDir?: string): Promise<Error & { code?: string }> {
  try {
    const server = await startServer(
      {
        workers: 1,
        listeners: [{ type: 'tcp', port: 0 }],
        handlers,
        broker: false,
        admin: { enabled: false },
        log: { level: 'silent' },
      },
      baseDir === undefined ? {} : { baseDir },
    )
    await server.close()
  } catch (err) {
    return err as Error & { code?: string }
  }
  assert.fail('start-up should have failed')
}

test('a module with a misspelt hook stops start-up naming the module and the key', async () => {
  const err = await startFailure([fixture('bad-shape.ts')])
  assert.equal(err.code, 'MQTTD_ERR_HANDLER_SHAPE')
  assert.match(err.message, /bad-shape\.ts is not a valid handler: unknown key "onConect"/)
})

test('manualAcks is a known key and must be a boolean', () => {
  assert.deepEqual(handlerProblems({ manualAcks: true, setup() {} }), [])
  assert.deepEqual(handlerProblems({ manualAcks: 'yes' }), ['"manualAcks" must be a boolean, got string'])
})

test('a default export that is not a handler, or none at all, stops start-up', async () => {
  const wrong = await startFailure([fixture('not-a-handler.ts')])
  assert.equal(wrong.code, 'MQTTD_ERR_HANDLER_SHAPE')
  assert.match(wrong.message, /not-a-handler\.ts .*got number/)
  const none = await startFailure([fixture('no-default.ts')])
  assert.equal(none.code, 'MQTTD_ERR_HANDLER_SHAPE')
  assert.match(none.message, /no-default\.ts .*no default export/)
})

test('a module that throws on import, or does not exist, stops start-up with MQTTD_ERR_HANDLER_LOAD', async () => {
  const throws = await startFailure([fixture('throws-on-load.ts')])
  assert.equal(throws.code, 'MQTTD_ERR_HANDLER_LOAD')
  assert.match(throws.message, /throws-on-load\.ts: cannot load this module on purpose/)
  const missing = await startFailure([fixture('does-not-exist.ts')])
  assert.equal(missing.code, 'MQTTD_ERR_HANDLER_LOAD')
  assert.match(missing.message, /does-not-exist\.ts/)
  const pkg = await startFailure(['mqttd-no-such-package'])
  assert.equal(pkg.code, 'MQTTD_ERR_HANDLER_LOAD')
  assert.match(pkg.message, /mqttd-no-such-package/)
})

test('a path without ./ that names a file beside the config: MQTTD_ERR_HANDLER_LOAD asks "did you mean ./…?"', async () => {
  const testDir = new URL('..', import.meta.url).pathname
  const err = await startFailure(['fixtures/handlers/recorder.ts'], testDir)
  assert.equal(err.code, 'MQTTD_ERR_HANDLER_LOAD')
  assert.match(err.message, /did you mean \.\/fixtures\/handlers\/recorder\.ts\?/)
  // no such file: no hint
  const missing = await startFailure(['fixtures/handlers/nothing-here.ts'], testDir)
  assert.equal(missing.code, 'MQTTD_ERR_HANDLER_LOAD')
  assert.doesNotMatch(missing.message, /did you mean/)
})

test('a handler whose init fails in the workers stops start-up with MQTTD_ERR_HANDLER_INIT', async () => {
  const err = await startFailure([fixture('init-fails.ts')])
  assert.equal(err.code, 'MQTTD_ERR_HANDLER_INIT')
  assert.match(err.message, /init-fails.*database unreachable on purpose/)
})

test('handler modules in JavaScript and TypeScript both run, in config order, in every worker', async (t) => {
  const events = collectEvents(t)
  const js = collectEvents(t, 'mqttd-test-js')
  const server = await startTestServer(t, {
    workers: 2,
    handlers: [
      { module: fixture('recorder.ts'), options: { channel: events.channel } },
      fixture('recorder-js.js'),
    ],
  })
  const inits = await events.waitForCount((e) => e.event === 'init', 2)
  assert.deepEqual(inits.map((e) => e.workerId).sort(), server.workerThreadIds().sort())
  for (const e of inits) {
    assert.equal(e.instanceId, server.instanceId)
    assert.equal(e.workerCount, 2)
  }
  const client = await mqtt.connectAsync(server.url(), { reconnectPeriod: 0, clientId: 'both' })
  t.after(() => client.endAsync())
  const ts = await events.waitFor((e) => e.event === 'connect')
  const fromJs = await js.waitFor((e) => e.event === 'connect')
  assert.equal(fromJs.clientId, 'both')
  assert.equal(fromJs.threadId, ts.threadId)
})

test('setup runs before any packet is handled and receives the raw Connection', async (t) => {
  const events = collectEvents(t)
  const server = await startTestServer(t, {
    workers: 1,
    handlers: [{ module: fixture('recorder.ts'), options: { channel: events.channel } }],
  })
  const client = await mqtt.connectAsync(server.url(), {
    reconnectPeriod: 0,
    clientId: 'raw-events',
    keepalive: 1,
  })
  t.after(() => client.endAsync())
  const connect = await events.waitFor((e) => e.event === 'connect')
  assert.equal(connect.setupDone, true)
  const ping = await events.waitFor((e) => e.event === 'raw-pingreq', 5000)
  assert.equal(ping.clientId, 'raw-events')
})

test('a handler given by package name resolves from the config directory (node_modules), CommonJS or ESM', async (t) => {
  const { mkdtempSync, mkdirSync, writeFileSync } = await import('node:fs')
  const { tmpdir } = await import('node:os')
  const { join } = await import('node:path')
  const dir = mkdtempSync(join(tmpdir(), 'mqttd-pkg-'))
  const events = collectEvents(t)
  const write = (name: string, pkg: Record<string, unknown>, file: string, source: string) => {
    mkdirSync(join(dir, 'node_modules', name), { recursive: true })
    writeFileSync(
      join(dir, 'node_modules', name, 'package.json'),
      JSON.stringify({ name, version: '1.0.0', ...pkg }),
    )
    writeFileSync(join(dir, 'node_modules', name, file), source)
  }
  const body = (kind: string) =>
    `{ name: '${kind}', onConnect(ctx) { const c = new BroadcastChannel(${JSON.stringify(events.channel)}); c.postMessage({ event: '${kind}', clientId: ctx.clientId }); c.close() } }`
  write(
    'mqttd-test-esm',
    { type: 'module', exports: './index.js' },
    'index.js',
    `export default ${body('esm')}\n`,
  )
  write(
    'mqttd-test-cjs',
    { main: 'index.cjs' },
    'index.cjs',
    `module.exports = { default: ${body('cjs')} }\n`,
  )
  const server = await startServer(
    {
      workers: 1,
      listeners: [{ type: 'tcp', port: 0 }],
      handlers: ['mqttd-test-esm', 'mqttd-test-cjs'],
      broker: false,
      admin: { enabled: false },
      log: { level: 'silent' },
    },
    { baseDir: dir },
  )
  t.after(() => server.close())
  const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${server.listeners[0]!.port}`, {
    reconnectPeriod: 0,
    clientId: 'by-package',
  })
  t.after(() => client.endAsync())
  assert.equal((await events.waitFor((e) => e.event === 'esm')).clientId, 'by-package')
  assert.equal((await events.waitFor((e) => e.event === 'cjs')).clientId, 'by-package')
})
