/**
 * What an open connection leaves in the main thread once its TCP handle was
 * handed to a worker: nothing (a destroyed socket's husk once held ~2 KB per
 * connection through piscina's task record). Structure, not time: a WeakRef
 * to the handed-off handle's main-thread object must be cleared by a full GC
 * while the connection is still open.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { setImmediate as turn } from 'node:timers/promises'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import mqtt from 'mqtt'
import type { TcpHandle } from '../../src/transport/transferred-socket.ts'
import { startTestServer } from '../helpers/server.ts'

setFlagsFromString('--expose-gc')
const gc = runInNewContext('gc') as () => void

test('a connection handed to a worker is not kept by the main thread while it is open', async (t) => {
  const handedOff: Array<WeakRef<TcpHandle>> = []
  const server = await startTestServer(t, {
    workers: 1,
    start: { onHandoff: (handle) => void handedOff.push(new WeakRef(handle)) },
  })
  const client = await mqtt.connectAsync(server.url(), { reconnectPeriod: 0 })
  t.after(() => client.end(true))
  assert.equal(handedOff.length, 1)
  // a WeakRef target survives the job that made it: collect on later turns
  for (let i = 0; i < 3 && handedOff[0]!.deref() !== undefined; i++) {
    await turn()
    gc()
  }
  assert.equal(handedOff[0]!.deref(), undefined, "the transferred handle's main-thread object was collected")
  assert.equal(client.connected, true, 'the connection itself is still open')
})
