import assert from 'node:assert/strict'
import { test } from 'node:test'
import { type PoolThread, WorkerSlots } from '../../src/main/worker-slots.ts'

/** A stand-in for a node Worker: `threadId` turns -1 once the thread exited, as Node's does. */
class Thread implements PoolThread {
  threadId: number
  constructor(id: number) {
    this.threadId = id
  }
}

test('worker slots: a replacement takes the dead worker slot and counts one restart there, others stay', () => {
  const [a, b] = [new Thread(11), new Thread(12)]
  let live: Thread[] = [a, b]
  const slots = new WorkerSlots(2, () => live)
  assert.deepEqual(slots.list(), [
    { index: 0, threadId: 11, restarts: 0 },
    { index: 1, threadId: 12, restarts: 0 },
  ])
  // b dies; piscina drops it from its list and appends the replacement
  const c = new Thread(13)
  live = [a, c]
  assert.equal(slots.indexOf(13), 1)
  assert.equal(slots.restartsOf(13), 1)
  assert.equal(slots.restartsOf(11), 0)
  const d = new Thread(14)
  live = [a, d]
  assert.deepEqual(slots.list(), [
    { index: 0, threadId: 11, restarts: 0 },
    { index: 1, threadId: 14, restarts: 2 },
  ])
  assert.equal(slots.indexOf(13), undefined)
})

test('worker slots: a worker that ended with process.exit (threadId -1) still frees its own slot', () => {
  const [a, b] = [new Thread(21), new Thread(22)]
  let live: Thread[] = [a, b]
  const slots = new WorkerSlots(2, () => live)
  assert.equal(slots.indexOf(22), 1)
  for (const [next, expected] of [
    [23, 1],
    [24, 2],
    [25, 3],
  ] as const) {
    const dead = live[1]!
    dead.threadId = -1
    // still listed for a moment: its slot stays taken, the thread is no worker to number
    assert.deepEqual(
      slots.list().map((s) => s.index),
      [0, 1],
    )
    live = [a, new Thread(next)]
    assert.equal(slots.indexOf(next), 1)
    assert.equal(slots.restartsOf(next), expected)
  }
  assert.equal(slots.restartsOf(21), 0)
})

test('worker slots: two deaths at once are both replaced, in the lowest free slots', () => {
  const threads = [new Thread(1), new Thread(2), new Thread(3)]
  let live: Thread[] = threads
  const slots = new WorkerSlots(3, () => live)
  slots.list()
  live = [threads[1]!, new Thread(4), new Thread(5)]
  assert.deepEqual(slots.list(), [
    { index: 0, threadId: 4, restarts: 1 },
    { index: 1, threadId: 2, restarts: 0 },
    { index: 2, threadId: 5, restarts: 1 },
  ])
})
