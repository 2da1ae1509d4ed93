import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { type TestContext, test } from 'node:test'
import { RateHistory } from '../../src/admin/rate-history.ts'
import { ControlClient, ControlServer } from '../../src/control/control-channel.ts'
import type { WorkerTotals } from '../../src/control/protocol.ts'
import { MainMetrics } from '../../src/metrics/main-metrics.ts'

const totals = (over: Partial<WorkerTotals> = {}): WorkerTotals => ({
  messagesIn: 0,
  messagesOut: 0,
  bytesIn: 0,
  bytesOut: 0,
  connections: 0,
  dropped: {},
  rejected: {},
  ...over,
})

/** Workers answering the totals request over a real control channel, from plain objects the test changes. */
function harness(t: TestContext, capacity = 900) {
  const instance = randomUUID()
  const control = new ControlClient(instance)
  const metrics = new MainMetrics({ defaultMetrics: false, listeners: ['tcp'] })
  const workers = new Map<number, { server: ControlServer; totals: WorkerTotals }>()
  const add = (threadId: number, initial: WorkerTotals) => {
    const server = new ControlServer(instance, threadId)
    const entry = { server, totals: initial }
    server.handle('metrics:totals', () => entry.totals)
    workers.set(threadId, entry)
    return entry
  }
  const remove = (threadId: number) => {
    workers.get(threadId)?.server.close()
    workers.delete(threadId)
  }
  const history = new RateHistory({
    control,
    metrics,
    workerThreadIds: () => [...workers.keys()],
    capacity,
    timeoutMs: 2000,
  })
  t.after(() => {
    for (const id of [...workers.keys()]) remove(id)
    control.close()
  })
  return { history, metrics, add, remove, workers }
}

test('RateHistory: the first sample is the baseline, then per-interval deltas summed over workers', async (t) => {
  const h = harness(t)
  const a = h.add(1, totals({ messagesIn: 100, bytesIn: 5000, connections: 3 }))
  const b = h.add(2, totals({ messagesOut: 7, connections: 2, dropped: { queue_full: 4 } }))
  await h.history.sample()
  assert.deepEqual(h.history.samples(), [], 'counts from before the first sample are not a rate')

  a.totals = totals({ messagesIn: 130, bytesIn: 5600, connections: 4, rejected: { auth_refused: 1 } })
  b.totals = totals({ messagesOut: 17, connections: 2, dropped: { queue_full: 6, expired: 1 } })
  h.metrics.rejected('tcp', 'rate_limited')
  await h.history.sample()
  const [s] = h.history.samples()
  assert.ok(s !== undefined)
  assert.equal(s.messagesIn, 30)
  assert.equal(s.messagesOut, 10)
  assert.equal(s.bytesIn, 600)
  assert.equal(s.connections, 6)
  assert.deepEqual(s.dropped, { queue_full: 2, expired: 1 })
  assert.deepEqual(s.rejected, { auth_refused: 1, rate_limited: 1 })
  assert.ok(s.ms >= 0)
})

test('RateHistory: a dead worker takes nothing back, its replacement counts from zero', async (t) => {
  const h = harness(t)
  h.add(1, totals({ messagesIn: 1000, connections: 5 }))
  h.add(2, totals({ messagesIn: 50 }))
  await h.history.sample()
  h.remove(1) // its totals leave the sum: no negative rate
  h.add(3, totals({ messagesIn: 8, connections: 1 })) // the replacement counted 8 since it started
  h.workers.get(2)!.totals = totals({ messagesIn: 60 })
  await h.history.sample()
  const [s] = h.history.samples()
  assert.equal(s?.messagesIn, 18)
  assert.equal(s?.connections, 1)
})

test('RateHistory: the ring keeps the last `capacity` samples, oldest first, filtered by since', async (t) => {
  const h = harness(t, 3)
  const w = h.add(1, totals())
  await h.history.sample()
  for (let i = 1; i <= 5; i++) {
    w.totals = totals({ messagesIn: i * 10 })
    await h.history.sample()
  }
  const all = h.history.samples()
  assert.equal(all.length, 3)
  assert.deepEqual(
    all.map((s) => s.messagesIn),
    [10, 10, 10],
  )
  assert.ok(all[0]!.t <= all[1]!.t && all[1]!.t <= all[2]!.t)
  assert.deepEqual(h.history.samples(all[2]!.t), [])
  assert.equal(h.history.samples(all[0]!.t - 1).length, 3)
})
