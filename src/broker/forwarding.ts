/**
 * Forwarding stubs: what a worker keeps of a session it handed to another
 * worker, so that messages routed to it with a stale view still reach the
 * client exactly once. The decision rests on the `subs` sequence numbers the
 * messages carry; docs/broker-design.md walks through the hand-over.
 */
import type { BrokerMessage } from './message.ts'
import type { Subscription } from './session.ts'
import { type ParsedFilter, parseFilter } from './topic.ts'

/** Who routed a message and what it knew: see the `pub` cluster message. */
export interface RouteInfo {
  from: number
  fromSeq: number
  to: readonly number[]
  seen: readonly number[]
  local: boolean
}

export interface Stub {
  clientId: string
  /** The worker the session moved to. */
  to: number
  subs: { raw: string; parsed: ParsedFilter; sub: Subscription }[]
  /** `seq` of the `subs` message in which `to` announced the session; unknown until it arrives. */
  seqTo: number | undefined
  /** Remote messages that arrived before `seqTo` was known and need it to decide. */
  waiting: { message: BrokerMessage; route: RouteInfo }[]
  /** When the stub may be dropped (ms since epoch). */
  expires: number
}

export function newStub(
  clientId: string,
  to: number,
  subs: Iterable<[string, Subscription]>,
  expires: number,
): Stub {
  const list: Stub['subs'] = []
  for (const [raw, sub] of subs) {
    const parsed = parseFilter(raw)
    if (parsed !== undefined) list.push({ raw, parsed, sub })
  }
  return { clientId, to, subs: list, seqTo: undefined, waiting: [], expires }
}

/**
 * Whether the worker the session moved to delivers `route`'s message itself
 * (then the stub must not forward, or the client gets it twice), does not
 * (forward), or cannot be known yet (wait for its `subs` announcement).
 */
export function stubDecision(stub: Stub, route: RouteInfo): 'forward' | 'skip' | 'wait' {
  const target = stub.to
  const i = route.to.indexOf(target)
  if (stub.seqTo === undefined) {
    // The local view is exact: until the announcement arrives here, nothing sent from here reached the session there
    if (route.local) return 'forward'
    return route.from === target || i >= 0 ? 'wait' : 'forward'
  }
  const delivered =
    (route.from === target && route.fromSeq >= stub.seqTo) || (i >= 0 && route.seen[i]! >= stub.seqTo)
  return delivered ? 'skip' : 'forward'
}
