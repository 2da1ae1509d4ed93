/**
 * Waits until every worker loaded its handlers and ran their `init`. A
 * worker answers the ready request only once its control channel exists, so
 * the request is repeated until all answered, one failed, or the deadline.
 */
import type { ControlClient } from '../control/control-channel.ts'
import { fromPlainError, mqttdError, mqttdErrorWithCause } from '../errors.ts'
import { controlTypes } from '../workers/worker-data.ts'

export async function waitForWorkers(
  control: ControlClient,
  count: number,
  timeoutMs: number,
): Promise<number[]> {
  const deadline = Date.now() + timeoutMs
  const ready = new Set<number>()
  while (Date.now() < deadline) {
    const result = await control.request<{ threadId: number }>(controlTypes.ready, null, {
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
