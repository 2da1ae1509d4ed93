import assert from 'node:assert/strict'
import { test } from 'node:test'
import { WorkerRestarts } from '../../src/main/worker-restarts.ts'

test('worker restarts: replacements inherit the count of the worker they replace, others stay at 0', () => {
  let live = [11, 12]
  const restarts = new WorkerRestarts(() => live)
  assert.deepEqual([restarts.of(11), restarts.of(12)], [0, 0])
  restarts.died(12)
  live = [11, 13]
  assert.deepEqual([restarts.of(11), restarts.of(13)], [0, 1])
  restarts.died(13)
  live = [11]
  assert.equal(restarts.of(11), 0)
  live = [11, 14]
  assert.equal(restarts.of(14), 2)
  restarts.died(11)
  live = [14, 15]
  assert.deepEqual([restarts.of(14), restarts.of(15)], [2, 1])
})
