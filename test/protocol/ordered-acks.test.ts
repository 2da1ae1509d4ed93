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

test('[3.1.1 MQTT-4.6.0-2] [5.0 MQTT-4.6.0-2] acknowledgements deferred on one shared wait react once and leave in order, around others', async () => {
  const sent: string[] = []
  const acks = new OrderedAcks(() => assert.fail('no wait failed'))
  const group = deferred<string>()
  const other = deferred<string>()
  // a promise that counts the reactions attached to it
  let reactions = 0
  const counted = {
    // biome-ignore lint/suspicious/noThenProperty: a thenable standing in for the shared group-commit promise
    then(onOk: (v: string) => void, onErr: (e: unknown) => void) {
      reactions++
      return group.promise.then(onOk, onErr)
    },
  } as unknown as Promise<string>
  acks.defer(counted, (v) => sent.push(`1${v}`))
  acks.defer(counted, (v) => sent.push(`2${v}`))
  acks.defer(other.promise, (v) => sent.push(`3${v}`))
  acks.defer(counted, (v) => sent.push(`4${v}`))
  assert.equal(reactions, 2, 'one reaction per run of the same wait, a new run after another wait')
  other.resolve('o')
  await Promise.resolve()
  assert.deepEqual(sent, [], 'nothing leaves before the first run')
  group.resolve('g')
  await acks.idle()
  assert.deepEqual(sent, ['1g', '2g', '3o', '4g'])
})

test('a shared wait that fails is reported once and sends none of its run', async () => {
  const sent: number[] = []
  const failures: unknown[] = []
  const acks = new OrderedAcks((err) => failures.push(err))
  const shared = deferred<number>()
  const after = deferred<number>()
  acks.defer(shared.promise, (v) => sent.push(v))
  acks.defer(shared.promise, (v) => sent.push(v + 1))
  acks.defer(after.promise, (v) => sent.push(v))
  after.resolve(9)
  shared.reject(new Error('commit failed'))
  await acks.idle()
  assert.deepEqual(sent, [9])
  assert.equal(failures.length, 1)
})
