import assert from 'node:assert/strict'
import { test } from 'node:test'
import { ConnectionLedger } from '../../src/main/connection-ledger.ts'

function ledger() {
  const released: Array<[string, number]> = []
  const l = new ConnectionLedger((listener, count) => released.push([listener, count]))
  const total = () => released.reduce((n, [, c]) => n + c, 0)
  return { l, released, total }
}

test('ledger: a worker reports its ended connections; each is released once, by listener', () => {
  const { l, released, total } = ledger()
  l.posted(1, ['tcp', 'tcp', 'ws'])
  l.posted(2, ['tcp'])
  assert.equal(l.open, 4)
  assert.equal(l.openOn(1), 3)
  l.ended(1, { tcp: 1, ws: 1 })
  assert.deepEqual(released, [
    ['tcp', 1],
    ['ws', 1],
  ])
  assert.equal(l.open, 2)
  // more than it was given (a bug in a worker) releases only what it held
  l.ended(2, { tcp: 5 })
  assert.equal(total(), 3)
  assert.equal(l.open, 1)
})

test('ledger: a worker that dies releases what it held; its reports arriving later are ignored', () => {
  const { l, released, total } = ledger()
  l.posted(7, ['tcp', 'tcp', 'tls'])
  l.ended(7, { tcp: 1 })
  l.gone(7)
  assert.deepEqual(released, [
    ['tcp', 1],
    ['tcp', 1],
    ['tls', 1],
  ])
  // posted before it died, delivered after: already part of what its end released
  l.ended(7, { tcp: 1, tls: 1 })
  l.gone(7)
  assert.equal(total(), 3)
  assert.equal(l.open, 0)
  // sockets posted to a port that closed in the same turn: the worker never reports them
  l.posted(7, ['ws'])
  assert.equal(total(), 4)
  assert.equal(l.open, 0)
})

test('ledger: the least loaded candidate, counting what a flush already planned', () => {
  const { l } = ledger()
  l.posted(1, ['tcp', 'tcp'])
  l.posted(2, ['tcp'])
  assert.equal(l.leastLoaded([1, 2]), 2)
  assert.equal(l.leastLoaded([1, 2], new Map([[2, 2]])), 1)
  assert.equal(l.leastLoaded([3, 1]), 3)
  assert.equal(l.leastLoaded([]), undefined)
})
