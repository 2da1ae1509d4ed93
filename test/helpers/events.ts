/**
 * Collects what test handlers post on a BroadcastChannel from the worker
 * threads (see test/fixtures/handlers/recorder.ts).
 */
import { randomUUID } from 'node:crypto'
import type { TestContext } from 'node:test'
import { BroadcastChannel } from 'node:worker_threads'
import { WaitList } from './wait-list.ts'

export type HandlerEvent = Record<string, unknown> & { event: string }

export interface EventLog {
  readonly channel: string
  readonly events: HandlerEvent[]
  /** Resolves with the first event (already seen or future) matching `match`. */
  waitFor(match: (e: HandlerEvent) => boolean, timeoutMs?: number): Promise<HandlerEvent>
  /** Resolves once `count` events match. */
  waitForCount(
    match: (e: HandlerEvent) => boolean,
    count: number,
    timeoutMs?: number,
  ): Promise<HandlerEvent[]>
}

export function collectEvents(t: TestContext, name = `mqttd-test-${randomUUID()}`): EventLog {
  const channel = new BroadcastChannel(name)
  const log = new WaitList<HandlerEvent>()
  const events = log.items
  channel.onmessage = (message) => log.push((message as { data: HandlerEvent }).data)
  t.after(() => channel.close())
  const waitForCount = (match: (e: HandlerEvent) => boolean, count: number, timeoutMs = 5000) =>
    log.waitForCount(
      match,
      count,
      timeoutMs,
      () => `timed out waiting for ${count} events on ${name}; got ${JSON.stringify(events)}`,
    )
  return {
    channel: name,
    events,
    waitForCount,
    waitFor: async (match, timeoutMs) => (await waitForCount(match, 1, timeoutMs))[0]!,
  }
}
