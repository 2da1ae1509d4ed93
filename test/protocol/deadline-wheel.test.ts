// The deadline wheel alone: real time, short ticks. Each test waits for the deadlines it expects
// (a promise per owner), never a fixed sleep; "not yet" is read at the moment another owner fires.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { type DeadlineOwner, DeadlineWheel } from '../../src/protocol/deadline-wheel.ts'

function owner(name: string, log: string[]): DeadlineOwner & { reached: Promise<number> } {
  let resolve: (at: number) => void = () => {}
  const reached = new Promise<number>((r) => (resolve = r))
  return {
    reached,
    deadlineReached() {
      log.push(name)
      resolve(performance.now())
    },
  }
}

test('deadlines fire in their order, never early, at most a tick or two late; a cancelled one never', async () => {
  const wheel = new DeadlineWheel(20)
  const log: string[] = []
  const start = performance.now()
  const late = owner('late', log)
  const early = owner('early', log)
  const cancelled = owner('cancelled', log)
  wheel.add(late, 120)
  wheel.add(early, 40)
  const slot = wheel.add(cancelled, 60)
  assert.equal(wheel.size, 3)
  wheel.cancel(cancelled, slot)
  assert.equal(wheel.size, 2)
  const earlyAt = await early.reached
  assert.ok(earlyAt - start >= 40, `fired ${earlyAt - start} ms after, before its 40 ms`)
  assert.deepEqual(log, ['early'])
  const lateAt = await late.reached
  assert.ok(lateAt - start >= 120, `fired ${lateAt - start} ms after, before its 120 ms`)
  // the cancelled one's slot (60 ms) passed long before: it would have fired between the two
  assert.deepEqual(log, ['early', 'late'])
  assert.equal(wheel.size, 0)
})

test('an owner may wait again from its deadlineReached(), and a wheel that went idle starts again', async () => {
  const wheel = new DeadlineWheel(10)
  let rounds = 0
  let done: () => void = () => {}
  const finished = new Promise<void>((r) => (done = r))
  const again: DeadlineOwner = {
    deadlineReached() {
      if (++rounds < 3) wheel.add(again, 15)
      else done()
    },
  }
  wheel.add(again, 15)
  await finished
  assert.equal(rounds, 3)
  assert.equal(wheel.size, 0)
  // idle now (its interval stopped): a new deadline still fires
  const log: string[] = []
  const next = owner('next', log)
  wheel.add(next, 15)
  await next.reached
  assert.deepEqual(log, ['next'])
})

test('cancel is a no-op for an owner that does not wait in that slot', () => {
  const wheel = new DeadlineWheel(50)
  const log: string[] = []
  const a = owner('a', log)
  const slot = wheel.add(a, 1000)
  wheel.cancel(a, slot + 1)
  wheel.cancel(owner('b', log), slot)
  assert.equal(wheel.size, 1)
  wheel.cancel(a, slot)
  wheel.cancel(a, slot)
  assert.equal(wheel.size, 0)
})
