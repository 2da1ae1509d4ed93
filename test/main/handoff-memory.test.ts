/**
 * What an open connection leaves in the main thread once its socket was
 * handed to a worker: nothing of the socket (its destroyed husk held ~2 KB
 * per connection through piscina's task record). Structure, not time: a
 * WeakRef to the handed-off socket must be cleared by a full GC while the
 * connection is still open.
 */
import assert from 'node:assert/strict'
import type { Socket } from 'node:net'
import { test } from 'node:test'
import { setImmediate as turn } from 'node:timers/promises'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import mqtt from 'mqtt'
import { startTestServer } from '../helpers/server.ts'

setFlagsFromString('--expose-gc')
const gc = runInNewContext('gc') as () => void

test('a socket handed to a worker is not kept by the main thread while its connection is open', async (t) => {
  const handedOff: Array<WeakRef<Socket>> = []
  const server = await startTestServer(t, {
    workers: 1,
    start: { onHandoff: (socket) => void handedOff.push(new WeakRef(socket)) },
  })
  const client = await mqtt.connectAsync(server.url(), { reconnectPeriod: 0 })
  t.after(() => client.end(true))
  assert.equal(handedOff.length, 1)
  // a WeakRef target survives the job that made it: collect on later turns
  for (let i = 0; i < 3 && handedOff[0]!.deref() !== undefined; i++) {
    await turn()
    gc()
  }
  assert.equal(handedOff[0]!.deref(), undefined, 'the husk of the transferred socket was collected')
  assert.equal(client.connected, true, 'the connection itself is still open')
})
