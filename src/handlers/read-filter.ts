/**
 * What a connection may receive. A handler (the built-in ACL, or yours)
 * sets a read filter on a connection in `onConnect`; the built-in broker
 * asks it before it hands a message to that client's session, retained and
 * will messages included, and keeps asking it while a persistent session is
 * offline. A message the filter refuses is not sent and not counted as a drop.
 */
import type { HookContext } from './types.ts'

/** Returns whether the client may receive a message published to `topic`. */
export type ReadFilter = (topic: string) => boolean

const filters = new WeakMap<HookContext, ReadFilter>()

/** Sets (replaces) the read filter of the connection of `ctx`. */
export function setReadFilter(ctx: HookContext, filter: ReadFilter): void {
  filters.set(ctx, filter)
}

/** The read filter of the connection of `ctx`, if a handler set one. */
export function readFilterOf(ctx: HookContext): ReadFilter | undefined {
  return filters.get(ctx)
}
