// The one PUBLISH-property table (publish-properties.ts) must say what mqtt-packet says (ids,
// names, wire types) and what the property-rules table says may go in a PUBLISH: the fast paths
// and the packet-size check read it instead of mqtt-packet.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import mqttPacket from 'mqtt-packet'
import constants from 'mqtt-packet/constants.js'
import { propertyViolation } from '../../src/connection/property-rules.ts'
import { PUBLISH_PROPERTIES, propertySize, TYPE_BY_ID } from '../../src/connection/publish-properties.ts'

const mp = constants as unknown as {
  properties: Record<string, number>
  propertiesTypes: Record<string, string>
}

test('each PUBLISH property has mqtt-packet’s id and wire type', () => {
  for (const p of PUBLISH_PROPERTIES) {
    assert.equal(mp.properties[p.name], p.id, p.name)
    assert.equal(mp.propertiesTypes[p.name], p.type === 'varint' ? 'var' : p.type, p.name)
  }
})

test('the table lists exactly the properties a PUBLISH may carry (5.0 §3.3.2.3)', () => {
  const allowed = Object.keys(mp.properties).filter(
    (name) => propertyViolation('publish', { [name]: name === 'subscriptionIdentifier' ? 1 : 'x' }) === null,
  )
  assert.deepEqual(PUBLISH_PROPERTIES.map((p) => p.name).sort(), allowed.sort())
})

test('propertySize is the size mqtt-packet writes for each property', () => {
  const values: Record<string, unknown> = {
    payloadFormatIndicator: true,
    messageExpiryInterval: 70_000,
    contentType: 'ü/x',
    responseTopic: '',
    correlationData: Buffer.alloc(300),
    subscriptionIdentifier: 20_000,
    topicAlias: 9,
    userProperties: { key: 'välue' },
  }
  const base = {
    cmd: 'publish',
    topic: 't',
    payload: Buffer.alloc(0),
    qos: 0,
    dup: false,
    retain: false,
  } as const
  const empty = mqttPacket.generate(base, { protocolVersion: 5 }).length
  for (const p of PUBLISH_PROPERTIES) {
    const v = values[p.name]
    const generated = mqttPacket.generate(
      { ...base, properties: { [p.name]: v } },
      { protocolVersion: 5 },
    ).length
    const arg =
      typeof v === 'string'
        ? Buffer.byteLength(v)
        : Buffer.isBuffer(v)
          ? v.length
          : typeof v === 'number'
            ? v
            : p.type === 'pair'
              ? Buffer.byteLength('key') + Buffer.byteLength('välue')
              : 0
    // the property list's length and the remaining length take 1 byte each, except with the
    // 300-byte correlation data (2 each)
    const prefix = p.name === 'correlationData' ? 2 : 0
    assert.equal(generated - empty - prefix, propertySize(TYPE_BY_ID[p.id]!, arg), p.name)
  }
})
