import assert from 'node:assert/strict'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { loadConfig } from '../../src/config/load.ts'
import { validateConfig } from '../../src/config/validate.ts'

function configFile(name: string, text: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'mqttd-config-'))
  const file = join(dir, name)
  writeFileSync(file, text)
  return file
}

/** The error message lines after the first ("Invalid configuration…:"). */
function problems(fn: () => unknown): string[] {
  try {
    fn()
  } catch (err) {
    assert.equal((err as { code?: string }).code, 'MQTTD_ERR_CONFIG_INVALID')
    return (err as Error).message.split('\n').slice(1)
  }
  assert.fail('expected MQTTD_ERR_CONFIG_INVALID')
}

test('the embedded default: TCP 1883 and WS 8083 on loopback, admin on loopback 9883, the broker, workers = parallelism', () => {
  const { config, file } = loadConfig(undefined, {})
  assert.equal(file, null)
  assert.deepEqual(
    config.listeners.map((l) => [l.name, l.type, l.host, l.port]),
    [
      ['mqtt', 'tcp', '127.0.0.1', 1883],
      ['ws', 'ws', '127.0.0.1', 8083],
    ],
  )
  assert.equal(config.listeners[1]!.path, '/mqtt')
  assert.deepEqual(config.admin, {
    enabled: true,
    host: '127.0.0.1',
    port: 9883,
    ui: true,
    allowNoToken: false,
    publicMetrics: false,
  })
  assert.equal(config.auth, undefined)
  assert.equal(config.broker, true)
  assert.ok(config.workers >= 1)
  assert.deepEqual(config.limits, {
    maxConnections: 100000,
    maxPacketSize: 1048576,
    connectTimeoutMs: 10000,
    maxKeepaliveSeconds: 0,
    hookTimeoutMs: 5000,
    receiveMaximum: 100,
    topicAliasMaximum: 10,
    connectionRatePerAddress: 0,
    handoffQueue: 1024,
    maxSubscriptionsPerClient: 1000,
    maxSubscriptions: 1_000_000,
    maxTopicLength: 1024,
    maxTopicLevels: 128,
    lingerMs: 2000,
    maxLingering: 1000,
  })
  assert.equal(config.shutdown.drainTimeoutMs, 30000)
  assert.equal(config.log.level, 'info')
})

test('the issue example YAML loads; relative handler and TLS paths resolve against the config file', () => {
  const file = configFile(
    'mqttd.yaml',
    `workers: 2
listeners:
  - { name: mqtt, type: tcp, host: 127.0.0.1, port: 1883 }
  - { name: mqtts, type: tls, host: 0.0.0.0, port: 8883, key: ./key.pem, cert: ./cert.pem, ca: ./ca.pem, requestCert: false }
  - { name: ws, type: ws, host: 127.0.0.1, port: 8083, path: /mqtt }
  - { name: wss, type: wss, host: 0.0.0.0, port: 8084, path: /mqtt, key: ./key.pem, cert: ./cert.pem }
handlers:
  - ./handlers/auth.ts
  - { module: some-package, options: { a: 1 } }
admin: { host: 127.0.0.1, port: 9883 }
limits: { maxConnections: 100000, maxPacketSize: 1048576, connectTimeoutMs: 10000, maxKeepaliveSeconds: 0 }
shutdown: { drainTimeoutMs: 30000 }
log: { level: info }
`,
  )
  const { config, baseDir } = loadConfig(file, {})
  assert.equal(config.listeners[1]!.key, join(baseDir, 'key.pem'))
  assert.equal(config.listeners[1]!.ca, join(baseDir, 'ca.pem'))
  assert.deepEqual(config.handlers, [
    { module: join(baseDir, 'handlers/auth.ts') },
    { module: 'some-package', options: { a: 1 } },
  ])
})

test('JSON config files are read as JSON', () => {
  const file = configFile('mqttd.json', JSON.stringify({ workers: 3, listeners: [{ type: 'tcp', port: 0 }] }))
  const { config } = loadConfig(file, {})
  assert.equal(config.workers, 3)
  assert.equal(config.listeners[0]!.name, 'tcp-0', 'a listener without a name gets <type>-<port>')
})

test('errors name the path and the problem', () => {
  assert.deepEqual(
    problems(() =>
      validateConfig({
        listeners: [
          { type: 'tcp', port: 1 },
          { type: 'tcp', port: 70000 },
        ],
      }),
    ),
    ['listeners[1].port: must be <= 65535'],
  )
  assert.deepEqual(
    problems(() => validateConfig({ workers: 0 })),
    ['workers: must be >= 1'],
  )
  assert.deepEqual(
    problems(() => validateConfig({ wrokers: 2 })),
    ['wrokers: unknown key'],
  )
  assert.deepEqual(
    problems(() => validateConfig({ limits: { maxConections: 2 } })),
    ['limits.maxConections: unknown key'],
  )
  assert.deepEqual(
    problems(() => validateConfig({ listeners: [{ type: 'tcp' }] })),
    ['listeners[0].port: is required'],
  )
  assert.deepEqual(
    problems(() => validateConfig({ listeners: [{ type: 'udp', port: 1 }] })),
    ['listeners[0].type: must be one of tcp, tls, ws, wss'],
  )
  assert.deepEqual(
    problems(() => validateConfig({ handlers: [42] })),
    ['handlers[0]: must be string or object'],
  )
  assert.deepEqual(
    problems(() => validateConfig({ log: { level: 'loud' } })),
    ['log.level: must be one of fatal, error, warn, info, debug, trace, silent'],
  )
  assert.deepEqual(
    problems(() => validateConfig({ listeners: [{ type: 'ws', port: 1, path: 'mqtt' }] })),
    ['listeners[0].path: must match pattern "^/"'],
  )
})

test("broker options are checked at load time against the broker's own schema", () => {
  assert.deepEqual(
    problems(() => validateConfig({ broker: { maxQueuedMesages: 10, maxQos: 3 } })),
    ['broker.maxQueuedMesages: unknown key', 'broker.maxQos: must be one of 0, 1, 2'],
  )
  assert.deepEqual(
    problems(() => validateConfig({ broker: { retained: { maxMessages: -1 } } })),
    ['broker.retained.maxMessages: must be >= 0'],
  )
  assert.deepEqual(
    problems(() => validateConfig({ broker: 7 })),
    ['broker: must be boolean or object'],
  )
  // a held publish waits inside onPublish: it must give up before the hook timeout does
  assert.deepEqual(
    problems(() => validateConfig({ broker: { publishWaitMs: 6000 } })),
    ['broker.publishWaitMs: must be < limits.hookTimeoutMs (6000 >= 5000)'],
  )
  assert.deepEqual(
    problems(() => validateConfig({ limits: { hookTimeoutMs: 1000 } })),
    [
      'broker.publishWaitMs: must be < limits.hookTimeoutMs (2000 >= 1000)',
      'broker.clusterTimeoutMs: must be < limits.hookTimeoutMs (2000 >= 1000)',
    ],
  )
  assert.equal(validateConfig({ broker: false, limits: { hookTimeoutMs: 1000 } }).limits.hookTimeoutMs, 1000)
  // a partial section is valid: the broker fills its own defaults
  assert.deepEqual(validateConfig({ broker: { maxQueuedMessages: 10 } }).broker, { maxQueuedMessages: 10 })
})

test('every problem is reported at once', () => {
  assert.deepEqual(
    problems(() => validateConfig({ workers: 'two', listeners: [{ type: 'tcp', port: -1, colour: 'red' }] })),
    ['workers: must be integer', 'listeners[0].colour: unknown key', 'listeners[0].port: must be >= 0'],
  )
})

test('rules beyond the schema: TLS files per type, unique listener names', () => {
  assert.deepEqual(
    problems(() => validateConfig({ listeners: [{ type: 'tls', port: 8883 }] })),
    ['listeners[0].key: is required for type tls', 'listeners[0].cert: is required for type tls'],
  )
  assert.deepEqual(
    problems(() => validateConfig({ listeners: [{ type: 'tcp', port: 1, key: 'k.pem' }] })),
    ['listeners[0].key: only allowed for types tls and wss'],
  )
  assert.deepEqual(
    problems(() =>
      validateConfig({
        listeners: [
          { name: 'a', type: 'tcp', port: 1 },
          { name: 'a', type: 'ws', port: 2 },
        ],
      }),
    ),
    ['listeners[1].name: "a" is already used by listeners[0]'],
  )
})

test('environment overrides apply before validation and are named in errors', () => {
  const { config, env } = loadConfig(undefined, {
    MQTTD_WORKERS: '3',
    MQTTD_LOG_LEVEL: 'warn',
    MQTTD_ADMIN_PORT: '0',
  })
  assert.equal(config.workers, 3)
  assert.equal(config.log.level, 'warn')
  assert.equal(config.admin.port, 0)
  assert.deepEqual(env, [
    'MQTTD_WORKERS → workers',
    'MQTTD_LOG_LEVEL → log.level',
    'MQTTD_ADMIN_PORT → admin.port',
  ])
  assert.throws(
    () => loadConfig(undefined, { MQTTD_WORKERS: 'many' }),
    (err: Error) =>
      /environment: MQTTD_WORKERS → workers/.test(err.message) &&
      /workers: must be integer/.test(err.message),
  )
})

test('file errors: missing file, YAML syntax, JSON syntax, not a mapping', () => {
  assert.throws(
    () => loadConfig('/nonexistent/mqttd.yaml', {}),
    (err: Error & { code?: string }) =>
      err.code === 'MQTTD_ERR_CONFIG_READ' &&
      err.message.includes('/nonexistent/mqttd.yaml') &&
      /ENOENT/.test(err.message),
  )
  assert.throws(
    () => loadConfig(configFile('bad.yaml', 'workers: [1, 2\n'), {}),
    (err: Error & { code?: string }) =>
      err.code === 'MQTTD_ERR_CONFIG_PARSE' && err.message.includes('bad.yaml'),
  )
  assert.throws(
    () => loadConfig(configFile('bad.json', '{ "workers": 2, }'), {}),
    (err: Error & { code?: string }) => err.code === 'MQTTD_ERR_CONFIG_PARSE' && /JSON/.test(err.message),
  )
  assert.throws(
    () => loadConfig(configFile('list.yaml', '- a\n- b\n'), {}),
    (err: Error) => /\(root\): must be an object/.test(err.message),
  )
})

test('validation does not modify its input and is idempotent', () => {
  const input = { listeners: [{ type: 'tcp' as const, port: 1 }] }
  const once = validateConfig(input)
  assert.deepEqual(input, { listeners: [{ type: 'tcp', port: 1 }] })
  assert.deepEqual(validateConfig(once), once)
})

test('the config reference lists every key with type, default and description from the one schema', async () => {
  const { configReference } = await import('../../src/config/reference.ts')
  const keys = new Map(configReference().map((k) => [k.path, k]))
  assert.deepEqual(keys.get('limits.maxPacketSize'), {
    path: 'limits.maxPacketSize',
    type: 'integer',
    default: 1048576,
    description: 'Largest packet accepted from a client, in bytes.',
    constraints: '>= 16; <= 268435460',
  })
  assert.equal(keys.get('listeners[].type')?.constraints, 'tcp, tls, ws, wss')
  assert.equal(keys.get('listeners[].path')?.default, '/mqtt')
  assert.equal(keys.get('admin.host')?.default, '127.0.0.1')
  for (const path of [
    'workers',
    'listeners',
    'handlers',
    'broker',
    'admin.port',
    'shutdown.drainTimeoutMs',
    'log.level',
  ]) {
    assert.ok(keys.has(path), path)
  }
})
