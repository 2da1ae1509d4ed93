import assert from 'node:assert/strict'
import { test } from 'node:test'
import { parseBrokerOptions } from '../../src/broker/options.ts'
import { MqttdError } from '../../src/errors.ts'

test('broker options: defaults fill an empty section', () => {
  const o = parseBrokerOptions({})
  assert.equal(o.maxQos, 2)
  assert.equal(o.retainAvailable, true)
  assert.equal(o.maxQueuedMessages, 1000)
  assert.equal(o.retained.maxMessages, 100_000)
  assert.equal(parseBrokerOptions(undefined).maxInflightMessages, 100)
})

test('broker options: nested values kept, invalid values and unknown keys refused with MQTTD_ERR_BROKER_OPTIONS', () => {
  const o = parseBrokerOptions({ maxQos: 1, retained: { maxBytes: 10 } })
  assert.equal(o.maxQos, 1)
  assert.equal(o.retained.maxBytes, 10)
  assert.equal(o.retained.maxMessages, 100_000)
  for (const bad of [
    { maxQos: 3 },
    { maxQueuedMessages: -1 },
    { bogus: true },
    { retained: { maxMessages: 'x' } },
  ]) {
    assert.throws(
      () => parseBrokerOptions(bad),
      (err: unknown) => err instanceof MqttdError && err.code === 'MQTTD_ERR_BROKER_OPTIONS',
      JSON.stringify(bad),
    )
  }
})

test('broker options: publisher backpressure water marks default from maxQueuedMessages; inconsistent marks refused', () => {
  const d = parseBrokerOptions({})
  assert.deepEqual([d.queueHighWater, d.queueLowWater, d.publishWaitMs], [500, 250, 2000])
  const big = parseBrokerOptions({ maxQueuedMessages: 1_000_000 })
  assert.deepEqual([big.queueHighWater, big.queueLowWater], [1000, 500])
  const set = parseBrokerOptions({ queueHighWater: 100 })
  assert.deepEqual([set.queueHighWater, set.queueLowWater], [100, 50])
  assert.equal(parseBrokerOptions({ queueHighWater: 0 }).queueHighWater, 0)
  for (const bad of [
    { queueHighWater: 2000 },
    { queueHighWater: 100, queueLowWater: 100 },
    { publishWaitMs: 0 },
  ]) {
    assert.throws(
      () => parseBrokerOptions(bad),
      (err: unknown) => err instanceof MqttdError && err.code === 'MQTTD_ERR_BROKER_OPTIONS',
      JSON.stringify(bad),
    )
  }
})
