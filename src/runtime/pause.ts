/**
 * A wait that does not keep the process alive: a retry loop or a deadline
 * race in a closing worker must not hold its thread open.
 */
import { setTimeout as sleep } from 'node:timers/promises'

/** Resolves after `ms` milliseconds; the timer is unref'd. */
export function pause(ms: number): Promise<void> {
  return sleep(ms, undefined, { ref: false })
}
