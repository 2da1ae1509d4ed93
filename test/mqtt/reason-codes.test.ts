import assert from 'node:assert/strict'
import { test } from 'node:test'
import { errorTable } from '../../src/errors.ts'
import { ReasonCode } from '../../src/mqtt/reason-codes.ts'

test('ReasonCode is exported from mqttd for handler authors, the same table the framework uses', async () => {
  const main = await import('mqttd')
  assert.equal(main.ReasonCode, ReasonCode)
  assert.equal(main.ReasonCode.badUserNameOrPassword, 0x86)
})

test('every reason code a coded error carries is a named MQTT 5 reason code', () => {
  const named = new Set<number>(Object.values(ReasonCode))
  const carried = Object.entries(errorTable).flatMap(([code, spec]) =>
    'reasonCode' in spec ? [[code, spec.reasonCode] as const] : [],
  )
  assert.ok(carried.length > 0)
  for (const [code, reasonCode] of carried)
    assert.ok(named.has(reasonCode), `${code}: 0x${reasonCode.toString(16)}`)
})
