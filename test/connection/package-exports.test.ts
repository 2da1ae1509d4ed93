import assert from 'node:assert/strict'
import { createRequire } from 'node:module'
import { PassThrough } from 'node:stream'
import { test } from 'node:test'
import '../helpers/source-condition.ts'

const require = createRequire(import.meta.url)

test('require("mqttd/connection") is the Connection itself, like require("mqtt-connection")', () => {
  const Connection = require('mqttd/connection')
  assert.equal(typeof Connection, 'function')
  assert.equal(require('mqttd/connection').Connection, Connection)
  assert.equal(require('mqttd/connection').default, Connection)
  const legacy = require('mqtt-connection')
  assert.equal(typeof legacy, 'function')
  // both are usable the same way, with and without new
  const a = Connection(new PassThrough())
  const b = new Connection(new PassThrough())
  assert.ok(a instanceof Connection)
  assert.ok(b instanceof Connection)
  assert.equal(typeof Connection.parseStream, 'function')
  assert.equal(typeof Connection.generateStream, 'function')
  a.destroy()
  b.destroy()
})

test('import of mqttd/connection gives the same class as default and named export', async () => {
  const mod = await import('mqttd/connection')
  assert.equal(mod.default, mod.Connection)
  assert.equal(mod.Connection, require('mqttd/connection'))
  const main = await import('mqttd')
  assert.equal(main.Connection, mod.Connection)
  assert.equal(typeof main.defineHandler, 'function')
  assert.equal(typeof main.startServer, 'function')
})

test('mqttd/broker default-exports the built-in broker handler definition', async () => {
  const broker = await import('mqttd/broker')
  assert.ok(typeof broker.default === 'function' || typeof broker.default === 'object')
  // handlers before the broker use it to let a client publish to a `$` topic
  assert.equal(typeof broker.allowReservedTopic, 'function')
})
