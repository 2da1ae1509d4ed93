// The `cluster:` section: validated with defaults, set from the environment, secrets hidden.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { shownServers } from '../../src/cluster/connect.ts'
import { applyEnv } from '../../src/config/env.ts'
import { redactConfig } from '../../src/config/redact.ts'
import { validateConfig } from '../../src/config/validate.ts'

test('a cluster section is validated and completed with its defaults; without it nothing is added', () => {
  const config = validateConfig({ cluster: { nodeId: 'n-1', nats: { servers: ['nats://127.0.0.1:4222'] } } })
  assert.deepEqual(config.cluster, {
    nodeId: 'n-1',
    nats: { servers: ['nats://127.0.0.1:4222'], connectTimeoutMs: 5000 },
    replicas: 1,
    publishTimeoutMs: 4000,
    deadWorkerAfterMs: 30_000,
    consumerIdleMs: 300_000,
  })
  assert.equal(validateConfig({}).cluster, undefined)
})

test('a bad cluster section is refused with MQTTD_ERR_CONFIG_INVALID naming the key', () => {
  for (const cluster of [
    { nodeId: 'has space', nats: { servers: ['x:4222'] } },
    { nodeId: 'a', nats: { servers: [] } },
    { nodeId: 'a' },
    { nodeId: 'a', nats: { servers: ['x:4222'], passwd: 'typo' } },
    // a dead worker's consumer would be gone before anyone adopts it
    { nodeId: 'a', nats: { servers: ['x:4222'] }, deadWorkerAfterMs: 60_000, consumerIdleMs: 100_000 },
  ]) {
    assert.throws(
      () => validateConfig({ cluster } as never),
      (err: Error & { code?: string }) =>
        err.code === 'MQTTD_ERR_CONFIG_INVALID' && /cluster/.test(err.message),
      JSON.stringify(cluster),
    )
  }
})

test('MQTTD_CLUSTER_* variables set the node id, the servers (comma-separated) and the credentials', () => {
  const { config, applied } = applyEnv(
    {},
    {
      MQTTD_CLUSTER_NODE_ID: 'env-node',
      MQTTD_CLUSTER_NATS_SERVERS: 'nats://a:4222, nats://b:4222',
      MQTTD_CLUSTER_NATS_USER: 'u',
      MQTTD_CLUSTER_NATS_PASS: 'p',
    },
  )
  assert.equal(applied.length, 4)
  const valid = validateConfig(config)
  assert.equal(valid.cluster?.nodeId, 'env-node')
  assert.deepEqual(valid.cluster?.nats.servers, ['nats://a:4222', 'nats://b:4222'])
  assert.equal(valid.cluster?.nats.pass, 'p')
})

test('NATS secrets never show: pass and token redacted in printed configs, a URL password hidden in errors', () => {
  const config = validateConfig({
    cluster: {
      nodeId: 'a',
      nats: { servers: ['nats://u:secret@h:4222'], user: 'u', pass: 'pw', token: 't' },
    },
  })
  const shown = JSON.stringify(redactConfig(config))
  for (const secret of ['secret', '"pw"', '"t"']) assert.ok(!shown.includes(secret), secret)
  assert.ok(shown.includes('"user":"u"'))
  assert.equal(shownServers(config.cluster!), 'nats://u:[redacted]@h:4222')
})
