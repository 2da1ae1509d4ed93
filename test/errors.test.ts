import assert from 'node:assert/strict'
import { test } from 'node:test'
import {
  errorTable,
  fromPlainError,
  isErrorCode,
  MqttdError,
  mqttdError,
  mqttdErrorWithCause,
  toPlainError,
} from '../src/errors.ts'

test('every error code is MQTTD_ERR_* and builds an error carrying that code', () => {
  for (const code of Object.keys(errorTable)) {
    assert.ok(isErrorCode(code))
    assert.match(code, /^MQTTD_ERR_[A-Z0-9_]+$/)
    const err = mqttdError(code, 'a', 'b', 'c')
    assert.equal(err.code, code)
    assert.ok(err instanceof MqttdError)
    assert.ok(err instanceof Error)
    assert.doesNotMatch(err.message, /%s/, `${code} has more placeholders than the test fills`)
    assert.ok(errorTable[code].solve.length > 10, `${code} says how to solve it`)
  }
})

test('message templates are filled in order', () => {
  const err = mqttdError('MQTTD_ERR_PACKET_TOO_LARGE', 2000, 1000)
  assert.equal(err.message, 'Packet of 2000 bytes exceeds the maximum packet size of 1000 bytes')
  assert.equal(err.reasonCode, 0x95)
})

test('errors survive a structured clone as plain data and are rebuilt from the table', () => {
  const original = mqttdErrorWithCause('MQTTD_ERR_MALFORMED_PACKET', new Error('inner'), 'bad header')
  const cloned = structuredClone(toPlainError(original))
  const rebuilt = fromPlainError(cloned)
  assert.ok(rebuilt instanceof MqttdError)
  assert.equal((rebuilt as MqttdError).code, 'MQTTD_ERR_MALFORMED_PACKET')
  assert.equal((rebuilt as MqttdError).reasonCode, 0x81)
  assert.equal(rebuilt.message, original.message)

  const foreign = fromPlainError({ code: 'ECONNRESET', message: 'reset' })
  assert.ok(!(foreign instanceof MqttdError))
  assert.equal((foreign as Error & { code: string }).code, 'ECONNRESET')
})

test('instanceof recognises an error from another copy of the class', () => {
  const fake = Object.create(Object.getPrototypeOf(mqttdError('MQTTD_ERR_PROTOCOL_ERROR', 'x')))
  assert.ok(fake instanceof MqttdError)
  assert.ok(!(new Error('plain') instanceof MqttdError))
})
