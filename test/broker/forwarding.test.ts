import assert from 'node:assert/strict'
import { test } from 'node:test'
import { newStub, type RouteInfo, stubDecision } from '../../src/broker/forwarding.ts'

// The session moved from this worker (1) to worker 2; worker 3 is a third party.
const sub = { qos: 1 as const, nl: false, rap: false, rh: 0, subscriptionId: undefined }
const stub = (seqTo: number | undefined) => {
  const s = newStub('c', 2, [['a/#', sub]], Date.now() + 1000)
  s.seqTo = seqTo
  return s
}
const route = (r: Partial<RouteInfo>): RouteInfo => ({
  from: 3,
  fromSeq: 0,
  to: [1],
  seen: [0],
  local: false,
  ...r,
})

test('hand-over stub: before the new holder announced the session', () => {
  // published here: the local view is exact, the new holder was not sent the message
  assert.equal(stubDecision(stub(undefined), route({ from: 1, local: true, to: [] })), 'forward')
  // a third worker that did not send it to the new holder: forward now
  assert.equal(stubDecision(stub(undefined), route({ to: [1], seen: [5] })), 'forward')
  // sent by, or also to, the new holder: only its announcement sequence can tell
  assert.equal(stubDecision(stub(undefined), route({ from: 2, fromSeq: 7 })), 'wait')
  assert.equal(stubDecision(stub(undefined), route({ to: [1, 2], seen: [5, 9] })), 'wait')
})

test('hand-over stub: once the announcement sequence (10) is known, forward exactly what the new holder did not deliver', () => {
  const s = stub(10)
  assert.equal(stubDecision(s, route({ from: 2, fromSeq: 10 })), 'skip')
  assert.equal(stubDecision(s, route({ from: 2, fromSeq: 9 })), 'forward')
  assert.equal(stubDecision(s, route({ to: [1, 2], seen: [0, 10] })), 'skip')
  assert.equal(stubDecision(s, route({ to: [1, 2], seen: [0, 9] })), 'forward')
  assert.equal(stubDecision(s, route({ to: [1], seen: [0] })), 'forward')
  assert.equal(stubDecision(s, route({ from: 1, local: true, to: [2], seen: [10] })), 'skip')
  assert.equal(stubDecision(s, route({ from: 1, local: true, to: [], seen: [] })), 'forward')
})

test('hand-over stub keeps only valid filters, parsed', () => {
  const s = newStub(
    'c',
    2,
    [
      ['$share/g/x/+', sub],
      ['bad/#/x', sub],
      ['y', sub],
    ],
    0,
  )
  assert.deepEqual(
    s.subs.map((x) => [x.raw, x.parsed.group, x.parsed.filter]),
    [
      ['$share/g/x/+', 'g', 'x/+'],
      ['y', undefined, 'y'],
    ],
  )
})
