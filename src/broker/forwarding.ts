/**
 * Forwarding stubs: what a worker keeps of a session it handed to another
 * worker, so that messages routed to it with a stale view still reach the
 * client exactly once. The decision rests on the `subs` sequence numbers the
 * messages carry; docs/broker-design.md walks through the hand-over.
 */

import { matchesFilter, type ParsedFilter, parseFilter } from '../protocol/topic.ts'
import type { ClusterMessage } from './cluster.ts'
import { deliveryFor, deliveryForSub, type Merge, merge } from './delivery.ts'
import { type BrokerMessage, ownBytes } from './message.ts'
import type { Delivery, Subscription } from './session.ts'

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

export interface ForwarderOptions {
  self: number
  /** Sends data to the workers in `to`. */
  send: (to: readonly number[], message: ClusterMessage) => void
  /** Stops announcing `delta` subscriptions of a raw filter (see Announcer). */
  announce: (raw: string, delta: number) => void
  flush: () => void
  drop: (reason: string) => void
  /** How long a stub lives once the new holder announced the session. */
  ttlMs: number
  /** Most messages one stub holds while it cannot decide yet. */
  maxWaiting: number
}

/** The stubs of one worker: sessions it handed to other workers. */
export class Forwarder {
  readonly #o: ForwarderOptions
  readonly #stubs = new Map<string, Stub>()

  constructor(options: ForwarderOptions) {
    this.#o = options
  }

  get size(): number {
    return this.#stubs.size
  }

  /** `session` moved to worker `to` (its subscriptions stay announced until `to` announced them). */
  add(clientId: string, to: number, subs: Iterable<[string, Subscription]>): void {
    this.#stubs.set(clientId, newStub(clientId, to, subs, Date.now() + 60_000))
  }

  /** Forgets the stub of `clientId` (unless it points to `keepIfTo`, where the session still is). */
  drop(clientId: string, keepIfTo?: number): void {
    const stub = this.#stubs.get(clientId)
    if (stub === undefined || stub.to === keepIfTo) return
    this.#stubs.delete(clientId)
    // A stub whose target never announced the session still holds announced subscriptions
    if (stub.seqTo === undefined) for (const s of stub.subs) this.#o.announce(s.raw, -1)
  }

  /** Forwards `message` for every moved session it matches, unless the new holder delivered it. */
  forward(message: BrokerMessage, route: RouteInfo): void {
    for (const stub of this.#stubs.values()) this.#forwardOne(stub, message, route)
  }

  #forwardOne(stub: Stub, message: BrokerMessage, route: RouteInfo): void {
    const merged = new Map<string, Merge>()
    for (const s of stub.subs) {
      if (s.parsed.group !== undefined || !matchesFilter(s.parsed.filter, message.topic)) continue
      // No Local [5.0 MQTT-3.8.3-3]
      if (s.sub.nl && stub.clientId === message.origin) continue
      merge(merged, stub.clientId, undefined, s.sub)
    }
    const m = merged.get(stub.clientId)
    if (m === undefined) return
    const decision = stubDecision(stub, route)
    if (decision === 'forward') this.#direct(stub, deliveryFor(message, m))
    else if (decision === 'wait') {
      if (stub.waiting.length < this.#o.maxWaiting) stub.waiting.push({ message, route })
      else this.#o.drop('queue_full')
    }
  }

  /** A share group with no member left here: forward to where a moved member went; false when none did. */
  forwardShared(message: BrokerMessage, group: string, filter: string): boolean {
    const raw = `$share/${group}/${filter}`
    for (const stub of this.#stubs.values()) {
      const s = stub.subs.find((x) => x.raw === raw)
      if (s !== undefined) {
        this.#direct(stub, deliveryForSub(message, s.sub))
        return true
      }
    }
    return false
  }

  #direct(stub: Stub, delivery: Delivery): void {
    const o = this.#o
    // A payload received in a batch may be a view into the whole batch: clone only its own bytes
    const payload = ownBytes(delivery.message.payload)
    if (payload !== delivery.message.payload)
      delivery = { ...delivery, message: { ...delivery.message, payload } }
    o.send([stub.to], { t: 'direct', from: o.self, to: stub.to, clientId: stub.clientId, delivery })
  }

  /** Worker `from` announced `clientId`, moved in from here, at sequence `seq`. */
  restored(clientId: string, from: number, seq: number): void {
    const stub = this.#stubs.get(clientId)
    if (stub === undefined || stub.to !== from) return
    stub.seqTo = seq
    stub.expires = Date.now() + this.#o.ttlMs
    const waiting = stub.waiting
    stub.waiting = []
    for (const w of waiting) this.#forwardOne(stub, w.message, w.route)
    // The new holder announced the session: stop announcing it here
    for (const s of stub.subs) this.#o.announce(s.raw, -1)
    this.#o.flush()
  }

  /** Drops stubs past their lifetime (called from a slow timer). */
  prune(now: number): void {
    for (const [clientId, stub] of this.#stubs) {
      if (stub.expires > now) continue
      this.#stubs.delete(clientId)
      if (stub.seqTo === undefined) {
        // The new holder never announced the session (it died): stop announcing it here too
        for (const s of stub.subs) this.#o.announce(s.raw, -1)
        for (let i = 0; i < stub.waiting.length; i++) this.#o.drop('no_subscribers')
      }
    }
  }
}
