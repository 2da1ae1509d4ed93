import assert from 'node:assert/strict'
import { test } from 'node:test'
import { AdmissionControl } from '../../src/main/limits.ts'

test('admission: global and per-listener connection limits, released on close', () => {
  const control = new AdmissionControl({
    maxConnections: 3,
    perListener: new Map([['a', 1]]),
    ratePerAddress: 0,
  })
  assert.equal(control.admit('a', '10.0.0.1', 0), null)
  assert.equal(control.admit('a', '10.0.0.1', 0), 'max_connections')
  assert.equal(control.admit('b', '10.0.0.1', 0), null)
  assert.equal(control.admit('b', '10.0.0.1', 0), null)
  assert.equal(control.admit('b', '10.0.0.1', 0), 'max_connections')
  assert.equal(control.open, 3)
  control.release('a')
  assert.equal(control.admit('a', '10.0.0.1', 0), null)
})

test('admission: per-address rate is a token bucket refilled per second, per address', () => {
  const control = new AdmissionControl({ maxConnections: 100, perListener: new Map(), ratePerAddress: 2 })
  assert.equal(control.admit('l', '10.0.0.1', 1000), null)
  assert.equal(control.admit('l', '10.0.0.1', 1001), null)
  assert.equal(control.admit('l', '10.0.0.1', 1002), 'rate_limited')
  assert.equal(control.admit('l', '10.0.0.2', 1002), null, 'another address has its own bucket')
  assert.equal(control.admit('l', '10.0.0.1', 1500), null, 'half a second refills one token')
  assert.equal(control.admit('l', '10.0.0.1', 1501), 'rate_limited')
  assert.equal(control.admit('l', undefined, 1501), null, 'no address, no rate limit')
})

test('admission: behind a proxy, the address from the PROXY header draws on the same buckets, without counting a connection again', () => {
  const control = new AdmissionControl({ maxConnections: 1, perListener: new Map(), ratePerAddress: 2 })
  // accept: counted, no address (the peer is the proxy)
  assert.equal(control.admit('proxied', undefined, 0), null)
  assert.equal(control.open, 1)
  // the worker read the header: the client's address is checked; the count stays
  assert.equal(control.admitAddress('10.0.0.1', 1000), null)
  assert.equal(control.open, 1)
  assert.equal(control.admitAddress('10.0.0.1', 1001), null)
  assert.equal(control.admitAddress('10.0.0.1', 1002), 'rate_limited')
  // a direct client from that address shares the bucket
  control.release('proxied')
  assert.equal(control.admit('direct', '10.0.0.1', 1003), 'rate_limited')
  assert.equal(control.admitAddress('10.0.0.9', 1003), null)
  const unlimited = new AdmissionControl({ maxConnections: 1, perListener: new Map(), ratePerAddress: 0 })
  for (let i = 0; i < 5; i++) assert.equal(unlimited.admitAddress('10.0.0.1', 1000), null)
})
