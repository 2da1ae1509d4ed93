import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { ISubscribePacket } from 'mqtt-packet'
import { ackWait, isAckWait } from '../../src/handlers/ack-wait.ts'
import { HandlerChain, HookError } from '../../src/handlers/chain.ts'
import type { ConnectContext, Handler } from '../../src/handlers/types.ts'

// The chain hands these to the hooks untouched; it never reads them.
const ctx = {} as ConnectContext
const publish = {
  cmd: 'publish',
  topic: 't',
  payload: Buffer.alloc(0),
  qos: 0,
  retain: false,
  dup: false,
} as const
const connect = { cmd: 'connect', clientId: 'c' } as const
const subscribe: ISubscribePacket = { cmd: 'subscribe', messageId: 1, subscriptions: [] }

const chainOf = (...handlers: Handler[]) =>
  new HandlerChain(
    handlers.map((handler, i) => ({ name: handler.name ?? `h${i}`, handler })),
    { timeoutMs: 200 },
  )

test('decision hooks run in order; undefined goes on; a code < 0x80 is kept and the chain goes on', async () => {
  const calls: string[] = []
  const chain = chainOf(
    { onPublish: () => void calls.push('a') },
    {
      onPublish: async () => {
        calls.push('b')
        return { reasonCode: 0x10, reasonString: 'No matching subscribers' }
      },
    },
    { onPublish: () => void calls.push('c') },
  )
  const outcome = await chain.decide('onPublish', ctx, publish)
  assert.deepEqual(calls, ['a', 'b', 'c'])
  assert.deepEqual(outcome.reason, { reasonCode: 0x10, reasonString: 'No matching subscribers' })
})

test('decide answers with a value, not a promise, while every hook answers synchronously', async () => {
  const calls: string[] = []
  const sync = chainOf(
    { onPublish: () => void calls.push('a') },
    { onPublish: () => ({ reasonCode: 0x10 }) },
    { onPublish: () => void calls.push('c') },
  )
  const outcome = sync.decide('onPublish', ctx, publish)
  assert.ok(!(outcome instanceof Promise))
  assert.deepEqual(calls, ['a', 'c'])
  assert.equal(outcome.reason?.reasonCode, 0x10)
  // one asynchronous hook in the middle: the rest still run, in order, after it
  const mixed = chainOf(
    { onPublish: () => void calls.push('d') },
    { onPublish: async () => void calls.push('e') },
    { onPublish: () => ({ reasonCode: 0x87 }) },
    { onPublish: () => void calls.push('never') },
  )
  const later = mixed.decide('onPublish', ctx, publish)
  assert.ok(later instanceof Promise)
  assert.equal((await later).reason?.reasonCode, 0x87)
  assert.deepEqual(calls, ['a', 'c', 'd', 'e'])
})

test('a code >= 0x80 refuses and stops; { stop: true } stops without a reason', async () => {
  const calls: string[] = []
  const refuse = chainOf(
    { onConnect: () => ({ reasonCode: 0x87 }) },
    { onConnect: () => void calls.push('never') },
  )
  assert.equal((await refuse.decide('onConnect', ctx, connect)).reason?.reasonCode, 0x87)
  const stop = chainOf(
    { onConnect: () => ({ stop: true as const }) },
    { onConnect: () => void calls.push('never') },
  )
  assert.equal((await stop.decide('onConnect', ctx, connect)).reason, undefined)
  assert.deepEqual(calls, [])
})

test('continueAuth ends the chain and is returned', async () => {
  const chain = chainOf({ onConnect: () => ({ continueAuth: { authenticationMethod: 'SCRAM' } }) })
  assert.deepEqual((await chain.decide('onConnect', ctx, connect)).continueAuth, {
    authenticationMethod: 'SCRAM',
  })
})

test('a throwing or rejecting hook raises MQTTD_ERR_HOOK_FAILED naming the hook and handler', async () => {
  const sync = chainOf({
    name: 'auth',
    onConnect: () => {
      throw new Error('boom')
    },
  })
  // a failure is a rejected promise, even from a hook that threw synchronously
  const failed = sync.decide('onConnect', ctx, connect)
  assert.ok(failed instanceof Promise)
  await assert.rejects(failed, (err: HookError) => {
    assert.ok(err instanceof HookError)
    assert.equal(err.code, 'MQTTD_ERR_HOOK_FAILED')
    assert.equal(err.hook, 'onConnect')
    assert.equal(err.handler, 'auth')
    assert.equal(err.message, 'Hook onConnect of handler auth failed: boom')
    assert.equal(err.reasonCode, 0x83)
    return true
  })
  const rejects = chainOf({ name: 'x', onSubscribe: () => Promise.reject(new Error('nope')) })
  await assert.rejects(
    Promise.resolve(rejects.decide('onSubscribe', ctx, subscribe, [])),
    /Hook onSubscribe of handler x failed: nope/,
  )
})

test('an acknowledgement wait: the outcome stays marked and carries the reason; its failure is a HookError, last hook or not', async () => {
  const answered = chainOf({
    name: 'store',
    onPublish: () => ackWait(Promise.resolve({ reasonCode: 0x10 }), 'store'),
  })
  const outcome = answered.decide('onPublish', ctx, publish)
  assert.ok(isAckWait(outcome), 'the connection may read on while it waits')
  assert.equal((await outcome).reason?.reasonCode, 0x10)

  const failing = () => ackWait(Promise.reject(new Error('disk')), 'store')
  const hookError = (err: HookError) => {
    assert.ok(err instanceof HookError)
    assert.equal(err.code, 'MQTTD_ERR_HOOK_FAILED')
    assert.equal(err.handler, 'store')
    assert.equal(err.message, 'Hook onPublish of handler store failed: disk')
    return true
  }
  await assert.rejects(
    Promise.resolve(chainOf({ name: 'store', onPublish: failing }).decide('onPublish', ctx, publish)),
    hookError,
  )
  const notLast = chainOf(
    { name: 'store', onPublish: failing },
    { name: 'after', onPublish: () => undefined },
  )
  await assert.rejects(Promise.resolve(notLast.decide('onPublish', ctx, publish)), hookError)
  const second = chainOf(
    { name: 'before', onPublish: () => Promise.resolve(undefined) },
    { name: 'store', onPublish: failing },
  )
  await assert.rejects(Promise.resolve(second.decide('onPublish', ctx, publish)), hookError)
})

test('a hook that does not settle within the timeout raises MQTTD_ERR_HOOK_TIMEOUT', async () => {
  const chain = chainOf({ name: 'slow', onPublish: () => new Promise(() => {}) })
  await assert.rejects(Promise.resolve(chain.decide('onPublish', ctx, publish)), (err: HookError) => {
    assert.equal(err.code, 'MQTTD_ERR_HOOK_TIMEOUT')
    assert.equal(err.message, 'Hook onPublish of handler slow did not settle within 200 ms')
    return true
  })
})

test('notifyAll runs every handler and collects failures; the observer sees durations and errors', async () => {
  const seen: string[] = []
  const chain = new HandlerChain(
    [
      {
        name: 'a',
        handler: {
          onClose: () => {
            throw new Error('a failed')
          },
        },
      },
      { name: 'b', handler: { onClose: () => void seen.push('b ran') } },
    ],
    {
      timeoutMs: 200,
      observer: {
        observeHook: (hook, module) => seen.push(`ok ${hook} ${module}`),
        hookError: (hook, module) => seen.push(`error ${hook} ${module}`),
      },
    },
  )
  const failures = await chain.notifyAll('onClose', ctx, { reason: 'socket-closed', wasConnected: false })
  assert.equal(failures.length, 1)
  assert.equal(failures[0]!.handler, 'a')
  assert.deepEqual(seen, ['error onClose a', 'b ran', 'ok onClose b'])
  assert.equal(chain.has('onClose'), true)
  assert.equal(chain.has('onPing'), false)
})

test('notify runs hooks in order whether they answer now or later, and stops at the first failure (a HookError naming it)', async () => {
  const seen: string[] = []
  const tick = () => new Promise<void>((resolve) => setImmediate(resolve))
  const make = (fail: 'a' | 'b' | null) =>
    new HandlerChain(
      [
        {
          name: 'a',
          handler: {
            onPing: () => {
              seen.push('a')
              if (fail === 'a') throw new Error('a failed')
            },
          },
        },
        {
          name: 'b',
          handler: {
            onPing: async () => {
              await tick()
              seen.push('b')
              if (fail === 'b') throw new Error('b failed')
            },
          },
        },
        { name: 'c', handler: { onPing: () => void seen.push('c') } },
      ],
      { timeoutMs: 1000 },
    )
  await make(null).notify('onPing', ctx, { cmd: 'pingreq' })
  assert.deepEqual(seen, ['a', 'b', 'c'])
  for (const fail of ['a', 'b'] as const) {
    seen.length = 0
    const err = await make(fail)
      .notify('onPing', ctx, { cmd: 'pingreq' })
      .then(
        () => null,
        (e: unknown) => e,
      )
    assert.ok(err instanceof HookError, fail)
    assert.equal(err.handler, fail)
    assert.deepEqual(seen, fail === 'a' ? ['a'] : ['a', 'b'])
  }
})

test('notifyAll goes on past failures, early or late, and returns each; an acknowledgement wait that fails is its hook failure', async () => {
  const seen: string[] = []
  const chain = new HandlerChain(
    [
      { name: 'a', handler: { onClose: () => void seen.push('a') } },
      {
        name: 'c',
        handler: {
          onClose: () => {
            seen.push('c')
            return ackWait(Promise.reject(new Error('c wait failed')))
          },
        },
      },
      {
        name: 'b',
        handler: {
          onClose: async () => {
            seen.push('b')
            throw new Error('b failed later')
          },
        },
      },
      { name: 'd', handler: { onClose: () => void seen.push('d') } },
    ],
    { timeoutMs: 1000 },
  )
  const failures = await chain.notifyAll('onClose', ctx, { reason: 'socket-closed', wasConnected: false })
  assert.deepEqual(seen, ['a', 'c', 'b', 'd'])
  assert.deepEqual(
    failures.map((f) => [f.handler, f instanceof HookError]),
    [
      ['c', true],
      ['b', true],
    ],
  )
})

test('notifyNow and notifyAllNow answer with values while every hook answers synchronously, else with promises', async () => {
  const calls: string[] = []
  const sync = chainOf(
    { onPing: () => void calls.push('a'), onClose: () => void calls.push('c') },
    { onPing: () => void calls.push('b') },
  )
  assert.equal(sync.notifyNow('onPing', ctx, { cmd: 'pingreq' }), undefined)
  assert.equal(sync.notifyNow('onConnected', ctx), undefined, 'no handler has the hook')
  assert.deepEqual(sync.notifyAllNow('onClose', ctx, { reason: 'socket-closed', wasConnected: true }), [])
  assert.deepEqual(calls, ['a', 'b', 'c'])
  const failing = chainOf({
    onClose: () => {
      throw new Error('boom')
    },
  })
  const failures = failing.notifyAllNow('onClose', ctx, { reason: 'socket-closed', wasConnected: true })
  assert.ok(Array.isArray(failures))
  assert.equal((failures as HookError[])[0]?.code, 'MQTTD_ERR_HOOK_FAILED')
  const later = chainOf(
    { onPing: async () => void calls.push('d') },
    { onPing: () => void calls.push('e'), onClose: async () => void calls.push('f') },
  )
  const pending = later.notifyNow('onPing', ctx, { cmd: 'pingreq' })
  assert.ok(pending instanceof Promise)
  await pending
  const all = later.notifyAllNow('onClose', ctx, { reason: 'socket-closed', wasConnected: true })
  assert.ok(all instanceof Promise)
  assert.deepEqual(await all, [])
  assert.deepEqual(calls.slice(3), ['d', 'e', 'f'])
})
