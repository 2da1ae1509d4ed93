import assert from 'node:assert/strict'
import { test } from 'node:test'
import { OrderedAcks } from '../../src/protocol/ordered-acks.ts'

function deferred<T>() {
  let resolve!: (value: T) => void
  let reject!: (err: unknown) => void
  const promise = new Promise<T>((res, rej) => {
    resolve = res
    reject = rej
  })
  return { promise, resolve, reject }
}

test('[3.1.1 MQTT-4.6.0-2] [5.0 MQTT-4.6.0-2] acknowledgements whose waits end out of order still leave in order', async () => {
  const sent: string[] = []
  const acks = new OrderedAcks(() => assert.fail('no wait failed'))
  const waits = [deferred<string>(), deferred<string>(), deferred<string>()]
  for (const w of waits) acks.defer(w.promise, (v) => sent.push(v))
  assert.equal(acks.holding, true)
  acks.push(() => sent.push('ready behind them'))
  waits[2]!.resolve('c')
  waits[1]!.resolve('b')
  await Promise.resolve()
  assert.deepEqual(sent, [], 'nothing leaves before the first')
  waits[0]!.resolve('a')
  await acks.idle()
  assert.deepEqual(sent, ['a', 'b', 'c', 'ready behind them'])
  assert.equal(acks.size, 0)
  assert.equal(acks.holding, false)
})

test('a wait that fails is reported once and does not hold back those after it', async () => {
  const sent: number[] = []
  const failures: unknown[] = []
  const acks = new OrderedAcks((err) => failures.push(err))
  const first = deferred<number>()
  const second = deferred<number>()
  acks.defer(first.promise, (v) => sent.push(v))
  acks.defer(second.promise, (v) => sent.push(v))
  second.resolve(2)
  first.reject(new Error('hook timed out'))
  await acks.idle()
  assert.deepEqual(sent, [2])
  assert.equal(failures.length, 1)
})

test('a wait that never settles is reported as a timeout naming its handler, once, by one timer for the connection', async () => {
  const timedOut: string[] = []
  let reported!: () => void
  const done = new Promise<void>((resolve) => {
    reported = resolve
  })
  const acks = new OrderedAcks(
    () => assert.fail('no wait failed'),
    20,
    (label) => {
      timedOut.push(label)
      reported()
    },
  )
  const sent: number[] = []
  acks.defer(Promise.resolve(1), (v) => sent.push(v), 'broker')
  acks.defer(new Promise<number>(() => {}), (v) => sent.push(v), 'broker')
  acks.defer(new Promise<number>(() => {}), (v) => sent.push(v), 'other')
  await done
  assert.deepEqual(timedOut, ['broker'], 'the oldest wait, the one still holding the others back')
  assert.deepEqual(sent, [1])
  acks.close()
})
