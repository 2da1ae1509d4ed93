// The broker's options are validated once, in the main thread: a worker gets them resolved and
// need not load the schema library. The broker listed by hand (`mqttd/broker` under handlers:)
// still validates its own options, in the worker.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import mqtt from 'mqtt'
import { validateConfig } from '../../src/config/validate.ts'
import { brokerModule, handlerSpecs } from '../../src/main/handler-specs.ts'
import { startTestServer } from '../helpers/server.ts'

test('the broker spec carries its options resolved (defaults, water marks) and marked so', () => {
  const config = validateConfig(
    { broker: { maxQueuedMessages: 100, maxQos: 1 }, persistence: false },
    { baseDir: '/tmp' },
  )
  const broker = handlerSpecs(config).find((s) => s.module === brokerModule)
  assert.ok(broker?.options)
  assert.equal(broker.options.optionsResolved, true)
  assert.equal(broker.options.maxQos, 1)
  assert.equal(broker.options.maxInflightMessages, 100)
  assert.equal(broker.options.queueHighWater, 50)
  assert.equal(broker.options.queueLowWater, 25)
  const defaults = handlerSpecs(validateConfig({ persistence: false }, { baseDir: '/tmp' })).at(-1)
  assert.equal(defaults?.options?.queueHighWater, 500)
})

test('the broker listed by hand validates its options in the worker: a bad one stops the start', async () => {
  await assert.rejects(
    startTestServer(null, { workers: 1, handlers: [{ module: brokerModule, options: { maxQos: 7 } }] }),
    (err: Error & { code?: string }) => {
      assert.equal(err.code, 'MQTTD_ERR_HANDLER_INIT')
      assert.match(err.message, /Invalid broker options: \/maxQos/)
      return true
    },
  )
})

test('the broker listed by hand applies its options (v5 CONNACK Maximum QoS 1)', async (t) => {
  const server = await startTestServer(t, {
    workers: 1,
    handlers: [{ module: brokerModule, options: { maxQos: 1 } }],
  })
  const client = await mqtt.connectAsync(server.url(), { protocolVersion: 5, reconnectPeriod: 0 })
  t.after(() => client.endAsync())
  // mqtt.js keeps the CONNACK it got
  const { connackPacket } = client as unknown as { connackPacket: mqtt.IConnackPacket }
  assert.equal(connackPacket.properties?.maximumQoS, 1)
})
