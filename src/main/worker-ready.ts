/**
 * Waits until every worker loaded its handlers and ran their `init`. A
 * worker answers the ready request only once its control channel exists, so
 * the request is repeated until all answered, one failed, or the deadline.
 */
import type { ControlClient } from '../control/control-channel.ts'
import type { ControlProtocol } from '../control/protocol.ts'
import { fromPlainError, mqttdError, mqttdErrorWithCause } from '../errors.ts'

export async function waitForWorkers(
  control: ControlClient,
  count: number,
  timeoutMs: number,
): Promise<number[]> {
  const deadline = Date.now() + timeoutMs
  const ready = new Set<number>()
  while (Date.now() < deadline) {
    const result = await control.request('worker:ready', null, {
      expectedWorkers: count,
      timeoutMs: 250,
    })
    for (const [, error] of result.errors) {
      const err = fromPlainError(error)
      // a handler's own coded error (load, shape, init) is the one to show
      throw (err as { code?: string }).code?.startsWith('MQTTD_ERR_HANDLER')
        ? err
        : mqttdErrorWithCause('MQTTD_ERR_WORKER_START', err, err.message)
    }
    for (const id of result.replies.keys()) ready.add(id)
    if (ready.size >= count) return [...ready]
  }
  throw mqttdError('MQTTD_ERR_WORKER_START', `${ready.size} of ${count} answered within ${timeoutMs} ms`)
}

/**
 * Sends `type` to every current worker and repeats it, once a second, to
 * those that did not answer (a worker starting up has no control channel
 * yet and misses it) until all answered or `timeoutMs` passed. The request
 * must be idempotent. Workers that answer with an error are not asked again.
 */
export async function requestEveryWorker<K extends keyof ControlProtocol>(
  control: ControlClient,
  threadIds: () => number[],
  type: K,
  payload: ControlProtocol[K]['request'],
  timeoutMs: number,
): Promise<Map<number, ControlProtocol[K]['reply']>> {
  const deadline = Date.now() + timeoutMs
  const replies = new Map<number, ControlProtocol[K]['reply']>()
  const failed = new Set<number>()
  for (;;) {
    const pending = threadIds().filter((id) => !replies.has(id) && !failed.has(id))
    const left = deadline - Date.now()
    if (pending.length === 0 || left <= 0) return replies
    const results = await Promise.all(
      pending.map((target) =>
        control.request(type, payload, { expectedWorkers: 1, target, timeoutMs: Math.min(1000, left) }),
      ),
    )
    results.forEach((result, i) => {
      const id = pending[i]!
      if (result.replies.has(id)) replies.set(id, result.replies.get(id)!)
      else if (result.errors.has(id)) failed.add(id)
    })
  }
}
