import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { type TestContext, test } from 'node:test'
import { Worker } from 'node:worker_threads'
import { createControlBackend } from '../../src/admin/control-backend.ts'
import type { AdminBackend, ConnectionInfo } from '../../src/admin/types.ts'
import { ControlClient } from '../../src/control/control-channel.ts'
import { MainMetrics } from '../../src/metrics/main-metrics.ts'
import { MetricsAggregator } from '../../src/metrics/metrics-aggregator.ts'

const workerFile = new URL('./fixtures/registry-worker.ts', import.meta.url)

function ask(worker: Worker, msg: object, until: string): Promise<void> {
  return new Promise((resolve) => {
    const on = (m: unknown) => {
      if (m !== until) return
      worker.off('message', on)
      resolve()
    }
    worker.on('message', on)
    worker.postMessage(msg)
  })
}

async function setup(t: TestContext, count: number): Promise<{ workers: Worker[]; backend: AdminBackend }> {
  const instanceId = randomUUID()
  const workers = Array.from({ length: count }, () => new Worker(workerFile, { workerData: { instanceId } }))
  const control = new ControlClient(instanceId)
  t.after(async () => {
    control.close()
    await Promise.all(workers.map((w) => w.terminate()))
  })
  await Promise.all(workers.map((w) => new Promise((resolve) => w.once('message', resolve))))
  const ids = () => workers.map((w) => w.threadId)
  const aggregator = new MetricsAggregator(new MainMetrics({ defaultMetrics: false }), control, ids)
  const backend = createControlBackend({
    control,
    aggregator,
    workerThreadIds: ids,
    isReady: () => true,
    restarts: (id) => id * 10,
    // Long enough for a busy CI machine to answer; the stuck-worker test blocks well beyond it.
    timeoutMs: 1500,
  })
  return { workers, backend }
}

async function pages(backend: AdminBackend, limit: number, between?: (page: number) => Promise<void>) {
  const seen: ConnectionInfo[] = []
  const sizes: number[] = []
  let cursor: string | null = null
  do {
    const page = await backend.connections(cursor === null ? { limit } : { limit, cursor })
    sizes.push(page.items.length)
    seen.push(...page.items)
    cursor = page.nextCursor
    await between?.(sizes.length)
  } while (cursor !== null)
  return { seen, sizes }
}

test('connections page across workers with a cursor: none twice, none skipped', async (t) => {
  const { workers, backend } = await setup(t, 3)
  // 9, 7 and 4 connections.
  await Promise.all(
    [9, 7, 4].map((n, w) =>
      ask(workers[w]!, { op: 'add', clientIds: Array.from({ length: n }, (_, i) => `w${w}-c${i}`) }, 'added'),
    ),
  )
  const { seen, sizes } = await pages(backend, 6)
  assert.deepEqual(sizes, [6, 6, 6, 2])
  assert.equal(new Set(seen.map((c) => c.clientId)).size, 20)
  const first = seen[0]!
  assert.deepEqual(
    { ...first, connectedSince: 'x' },
    {
      clientId: first.clientId,
      workerId: first.workerId,
      transport: 'tcp',
      listener: 'tcp',
      remoteAddress: '127.0.0.1',
      protocolVersion: 5,
      connectedSince: 'x',
      keepalive: 30,
      bytesIn: 10,
      bytesOut: 20,
    },
  )
  assert.ok(!('seq' in first))

  // Filter by client id.
  const one = await backend.connections({ limit: 10, clientId: 'w1-c3' })
  assert.deepEqual(
    one.items.map((c) => c.clientId),
    ['w1-c3'],
  )
  assert.equal(one.nextCursor, null)
})

test('clients leaving and arriving between pages are neither repeated nor lose others', async (t) => {
  const { workers, backend } = await setup(t, 2)
  await ask(workers[0]!, { op: 'add', clientIds: ['a0', 'a1', 'a2', 'a3'] }, 'added')
  await ask(workers[1]!, { op: 'add', clientIds: ['b0', 'b1', 'b2', 'b3'] }, 'added')
  const { seen } = await pages(backend, 3, async (page) => {
    if (page !== 1) return
    await ask(workers[0]!, { op: 'remove', clientId: 'a3' }, 'removed') // not listed yet
    await ask(workers[1]!, { op: 'add', clientIds: ['b4'] }, 'added') // after everything listed
  })
  const ids = seen.map((c) => c.clientId)
  assert.equal(new Set(ids).size, ids.length, 'no client listed twice')
  assert.deepEqual([...ids].sort(), ['a0', 'a1', 'a2', 'b0', 'b1', 'b2', 'b3', 'b4'])
})

test('a cursor not issued by the API is a bad request', async (t) => {
  const { backend } = await setup(t, 1)
  for (const cursor of [
    'nope',
    Buffer.from('[1,2]').toString('base64url'),
    Buffer.from('{"x":1}').toString('base64url'),
  ]) {
    await assert.rejects(backend.connections({ limit: 5, cursor }), { code: 'MQTTD_ERR_ADMIN_BAD_REQUEST' })
  }
})

test('kick reaches the worker holding the client with reason 0x98; unknown ids are false', async (t) => {
  const { workers, backend } = await setup(t, 2)
  await ask(workers[1]!, { op: 'add', clientIds: ['target'] }, 'added')
  const kicked = new Promise<{ kicked: string; args: unknown[] }>((resolve) =>
    workers[1]!.on('message', (m) => {
      if (typeof m === 'object' && m !== null && 'kicked' in m)
        resolve(m as { kicked: string; args: unknown[] })
    }),
  )
  assert.equal(await backend.kick('target'), true)
  const { kicked: who, args } = await kicked
  assert.equal(who, 'target')
  assert.equal(args[0], 0x98)
  assert.equal(args[2], 'administrative')
  assert.equal(await backend.kick('target'), false, 'a closing client is not kicked again')
  assert.equal(await backend.kick('nobody'), false)
})

test('/workers figures per worker; a stuck worker shows its last known figures, marked not responding', async (t) => {
  const { workers, backend } = await setup(t, 2)
  await ask(workers[0]!, { op: 'add', clientIds: ['x', 'y'] }, 'added')
  const first = await backend.workers()
  assert.deepEqual(first, [
    {
      id: 0,
      threadId: workers[0]!.threadId,
      connections: 2,
      eventLoopUtilization: 0.125,
      restarts: 0,
      responding: true,
    },
    {
      id: 1,
      threadId: workers[1]!.threadId,
      connections: 0,
      eventLoopUtilization: 0.125,
      restarts: 10,
      responding: true,
    },
  ])
  await ask(workers[0]!, { op: 'block', ms: 4000 }, 'blocking')
  const stuck = await backend.workers()
  assert.equal(stuck[0]!.responding, false)
  assert.equal(stuck[0]!.connections, 2)
  assert.equal(stuck[1]!.responding, true)
})
