import assert from 'node:assert/strict'
import { test } from 'node:test'
import { InboundFlow } from '../../src/protocol/inbound-flow.ts'
import { connackCode, v3ConnackCode } from '../../src/protocol/reason-codes.ts'

test('[5.0 MQTT-3.3.2-8] [5.0 MQTT-3.3.2-9] [5.0 MQTT-3.3.2-12] topic aliases: 0 and above the maximum are invalid; an unknown alias with an empty topic is refused', () => {
  const flow = new InboundFlow({ receiveMaximum: 10, topicAliasMaximum: 2 })
  assert.deepEqual(flow.resolveAlias(0, 'a'), { ok: false, reason: 'invalid' })
  assert.deepEqual(flow.resolveAlias(3, 'a'), { ok: false, reason: 'invalid' })
  assert.deepEqual(flow.resolveAlias(1, ''), { ok: false, reason: 'unknown' })
  assert.deepEqual(flow.resolveAlias(1, 'a/b'), { ok: true, topic: 'a/b' })
  assert.deepEqual(flow.resolveAlias(1, ''), { ok: true, topic: 'a/b' })
  assert.deepEqual(flow.resolveAlias(1, 'c'), { ok: true, topic: 'c' }, 'a topic rebinds the alias')
  assert.deepEqual(flow.resolveAlias(1, ''), { ok: true, topic: 'c' })
})

test('[5.0 MQTT-3.3.4-9] receive maximum counts unacknowledged QoS 1 and QoS 2 awaiting PUBREL', () => {
  const flow = new InboundFlow({ receiveMaximum: 2, topicAliasMaximum: 0 })
  flow.arrived()
  assert.equal(flow.exceeded(), false)
  flow.received(1) // QoS 2 PUBREC sent, awaiting PUBREL
  flow.arrived()
  assert.equal(flow.exceeded(), false)
  flow.acknowledged() // QoS 1 PUBACK sent
  flow.arrived()
  flow.received(2)
  flow.arrived()
  assert.equal(flow.exceeded(), true, 'two awaiting PUBREL plus one new')
  flow.acknowledged()
  assert.equal(flow.released(1), true)
  assert.equal(flow.released(1), false, 'a second PUBREL for the id is unknown')
  assert.equal(flow.inFlight, 1)
})

test('[3.1.1 MQTT-4.3.3-2] [5.0 MQTT-4.3.3-10] a QoS 2 id awaiting PUBREL marks a re-sent PUBLISH as duplicate', () => {
  const flow = new InboundFlow({ receiveMaximum: 10, topicAliasMaximum: 0 })
  flow.arrived()
  flow.received(5)
  assert.equal(flow.isDuplicate(5), true)
  assert.equal(flow.isDuplicate(6), false)
  flow.released(5)
  assert.equal(flow.isDuplicate(5), false)
})

test('v5 CONNACK refusal codes map to 3.1.1 return codes where one exists', () => {
  assert.equal(v3ConnackCode(0x84), 1)
  assert.equal(v3ConnackCode(0x85), 2)
  assert.equal(v3ConnackCode(0x88), 3)
  assert.equal(v3ConnackCode(0x86), 4)
  assert.equal(v3ConnackCode(0x87), 5)
  assert.equal(v3ConnackCode(0x95), undefined, 'no 3.1.1 code: the connection is just closed')
})

test('DISCONNECT-only reason codes become a CONNACK code when CONNACK is not sent yet', () => {
  assert.equal(connackCode(0x86), 0x86)
  assert.equal(connackCode(0x8b), 0x88, 'shutting down → server unavailable')
  assert.equal(connackCode(0x98), 0x80)
})

test('[3.1.1 MQTT-4.3.3-2] [5.0 MQTT-4.3.3-10] a QoS 2 id whose PUBREC waits counts as received: a re-send is a duplicate; a refusal forgets the id', () => {
  const flow = new InboundFlow({ receiveMaximum: 2, topicAliasMaximum: 0 })
  flow.arrived()
  flow.receiving(7)
  assert.equal(flow.isDuplicate(7), true)
  assert.equal(flow.isReceiving(7), true)
  flow.arrived()
  flow.receiving(8)
  flow.arrived()
  assert.equal(flow.exceeded(), true, 'both waiting PUBRECs stay in the window [5.0 MQTT-3.3.4-9]')
  flow.acknowledged()
  flow.settled(7, true)
  assert.equal(flow.isReceiving(7), false)
  assert.equal(flow.isDuplicate(7), true, 'accepted: awaiting PUBREL')
  flow.settled(8, false)
  assert.equal(flow.isDuplicate(8), false, 'refused: a re-send is a new message')
  assert.equal(flow.inFlight, 1)
  assert.equal(flow.released(7), true)
  assert.equal(flow.inFlight, 0)
})
