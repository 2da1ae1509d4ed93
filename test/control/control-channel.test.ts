import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { test } from 'node:test'
import { Worker } from 'node:worker_threads'
import { ControlClient } from '../../src/control/control-channel.ts'

// The channel is generic over its request map; these workers serve a map of their own.
interface TestProtocol {
  whoami: { request: unknown; reply: { threadId: number; echo: unknown } }
  fail: { request: null; reply: never }
  slow: { request: null; reply: string }
}

// Real worker threads: each serves 'whoami' and 'fail'; one never answers 'slow'.
const workerSource = `
const { threadId, workerData } = require('node:worker_threads')
const { ControlServer } = require(workerData.module)
const server = new ControlServer(workerData.instanceId, threadId)
server.handle('whoami', (payload) => ({ threadId, echo: payload }))
server.handle('fail', () => { throw Object.assign(new Error('nope'), { code: 'MQTTD_ERR_PROTOCOL_ERROR' }) })
if (!workerData.stuck) server.handle('slow', async () => 'done')
require('node:worker_threads').parentPort.postMessage('ready')
setInterval(() => {}, 1000)
`

async function startWorkers(count: number, instanceId: string, stuckIndex = -1): Promise<Worker[]> {
  const module = new URL('../../src/control/control-channel.ts', import.meta.url).pathname
  const workers = Array.from(
    { length: count },
    (_, i) =>
      new Worker(workerSource, { eval: true, workerData: { module, instanceId, stuck: i === stuckIndex } }),
  )
  await Promise.all(workers.map((w) => new Promise((resolve) => w.once('message', resolve))))
  return workers
}

test('a request reaches every worker and collects one reply each', async (t) => {
  const instanceId = randomUUID()
  const workers = await startWorkers(2, instanceId)
  const client = new ControlClient<TestProtocol>(instanceId)
  t.after(async () => {
    client.close()
    await Promise.all(workers.map((w) => w.terminate()))
  })
  const result = await client.request('whoami', { n: 1 }, { expectedWorkers: 2, timeoutMs: 5000 })
  assert.equal(result.missing, 0)
  assert.deepEqual([...result.replies.keys()].sort(), workers.map((w) => w.threadId).sort())
  for (const [id, reply] of result.replies) assert.deepEqual(reply, { threadId: id, echo: { n: 1 } })

  const one = await client.request('whoami', 'x', {
    expectedWorkers: 2,
    timeoutMs: 5000,
    target: workers[1]!.threadId,
  })
  assert.deepEqual([...one.replies.keys()], [workers[1]!.threadId])

  const failed = await client.request('fail', null, { expectedWorkers: 2, timeoutMs: 5000 })
  assert.equal(failed.errors.size, 2)
  assert.equal([...failed.errors.values()][0]!.code, 'MQTTD_ERR_PROTOCOL_ERROR')
})

test('a worker that does not answer is counted missing after the timeout', async (t) => {
  const instanceId = randomUUID()
  const workers = await startWorkers(2, instanceId, 1)
  const client = new ControlClient<TestProtocol>(instanceId)
  t.after(async () => {
    client.close()
    await Promise.all(workers.map((w) => w.terminate()))
  })
  // the timeout is what makes the stuck worker missing; it is long so that the live one surely answers on a loaded machine
  const result = await client.request('slow', null, { expectedWorkers: 2, timeoutMs: 2000 })
  assert.equal(result.replies.size, 1)
  assert.equal(result.missing, 1)
})

test('two instances in one process do not see each other', async (t) => {
  const a = randomUUID()
  const workers = await startWorkers(1, a)
  const other = new ControlClient<TestProtocol>(randomUUID())
  t.after(async () => {
    other.close()
    await Promise.all(workers.map((w) => w.terminate()))
  })
  const result = await other.request('whoami', null, { expectedWorkers: 1, timeoutMs: 150 })
  assert.equal(result.replies.size, 0)
  assert.equal(result.missing, 1)
})
