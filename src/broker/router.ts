/**
 * Routes messages to subscribers on this worker and on the others, and keeps
 * this worker's replicas of the routing table and of the retained messages
 * in step with the cluster.
 */
import type { ClusterMessage } from './cluster.ts'
import { newStub, type RouteInfo, type Stub, stubDecision } from './forwarding.ts'
import type { BrokerMessage, QoS } from './message.ts'
import { type RetainedLimits, RetainedStore } from './retained-store.ts'
import { RoutingTable } from './routing-table.ts'
import type { Delivery, Session, Subscription } from './session.ts'
import { pickMember, SubscriptionIndex } from './subscription-index.ts'
import { matchesFilter, type ParsedFilter, parseFilter } from './topic.ts'

export interface RouterOptions {
  workerId: number
  retained: RetainedLimits
  /** Posts control to every worker, in causal order. */
  post: (message: ClusterMessage) => void
  /** Sends data to the workers in `to`. */
  send: (to: readonly number[], message: ClusterMessage) => void
  drop: (reason: string) => void
  /** How long a forwarding stub lives once the new holder announced the session. */
  stubTtlMs: number
}

type SubsMessage = Extract<ClusterMessage, { t: 'subs' }>
type PubMessage = Extract<ClusterMessage, { t: 'pub' }>

/** One client's merged view of the subscriptions a message matched. */
interface Merge {
  session: Session | undefined
  qos: QoS
  rap: boolean
  ids: number[] | undefined
}

function merge(
  into: Map<string, Merge>,
  clientId: string,
  session: Session | undefined,
  sub: Subscription,
): void {
  const seen = into.get(clientId)
  if (seen === undefined) {
    into.set(clientId, {
      session,
      qos: sub.qos,
      rap: sub.rap,
      ids: sub.subscriptionId === undefined ? undefined : [sub.subscriptionId],
    })
    return
  }
  // Overlapping subscriptions: one copy at the highest QoS [MQTT-3.3.5-1], with every identifier [MQTT-3.3.4-3]
  if (sub.qos > seen.qos) seen.qos = sub.qos
  if (sub.rap) seen.rap = true
  if (sub.subscriptionId !== undefined) {
    if (seen.ids === undefined) seen.ids = [sub.subscriptionId]
    else seen.ids.push(sub.subscriptionId)
  }
}

export function deliveryFor(message: BrokerMessage, m: Pick<Merge, 'qos' | 'rap' | 'ids'>): Delivery {
  return {
    message,
    qos: Math.min(message.qos, m.qos) as QoS,
    // v3.1.1: RETAIN 0 on forwarded messages [MQTT-3.3.1-9]; v5: as published when asked [MQTT-3.3.1-12] [MQTT-3.3.1-13]
    retain: m.rap && message.retain,
    subscriptionIds: m.ids,
  }
}

export class Router {
  readonly index = new SubscriptionIndex()
  readonly table = new RoutingTable()
  readonly retained: RetainedStore
  readonly #o: RouterOptions
  readonly #self: number
  #seq = 0
  readonly #seen = new Map<number, number>()
  /** Subscription counts this worker announces (local index plus sessions being handed over). */
  readonly #advertised = new Map<string, number>()
  readonly #pending = new Map<string, number>()
  #restored: [string, number][] = []
  #flushQueued = false
  readonly #stubs = new Map<string, Stub>()
  /** Workers heard from, and the highest `subs` seq of ours each acknowledged. */
  readonly #peers = new Map<number, number>()
  #confirmations: { seq: number; done: () => void }[] = []

  constructor(options: RouterOptions) {
    this.#o = options
    this.#self = options.workerId
    this.retained = new RetainedStore(options.retained)
  }

  /** Posts `message` after any pending subscription changes, so receivers see them in causal order. */
  post(message: ClusterMessage): void {
    this.flush()
    this.#o.post(message)
  }

  /** Announces pending subscription changes now (`force`: even none, as a barrier); returns this worker's `subs` seq. */
  flush(force = false): number {
    if (force || this.#pending.size > 0 || this.#restored.length > 0) {
      const deltas = [...this.#pending].filter(([, d]) => d !== 0)
      this.#pending.clear()
      const restored = this.#restored
      this.#restored = []
      this.#o.post({ t: 'subs', from: this.#self, seq: ++this.#seq, deltas, restored })
    }
    return this.#seq
  }

  #announce(raw: string, delta: number): void {
    this.#pending.set(raw, (this.#pending.get(raw) ?? 0) + delta)
    const n = (this.#advertised.get(raw) ?? 0) + delta
    if (n > 0) this.#advertised.set(raw, n)
    else this.#advertised.delete(raw)
    if (!this.#flushQueued) {
      this.#flushQueued = true
      queueMicrotask(() => {
        this.#flushQueued = false
        this.flush()
      })
    }
  }

  /** Adds or replaces [MQTT-3.8.4-3] one subscription; returns whether it existed before. */
  subscribe(session: Session, raw: string, parsed: ParsedFilter, sub: Subscription): boolean {
    const existed = session.subscriptions.has(raw)
    session.subscriptions.set(raw, sub)
    this.index.add(parsed, session, sub)
    if (!existed) this.#announce(raw, 1)
    return existed
  }

  /** Deletes the subscription whose filter is exactly `raw` [MQTT-3.10.4-1]; false when there was none. */
  unsubscribe(session: Session, raw: string): boolean {
    if (!session.subscriptions.delete(raw)) return false
    this.index.remove(parseFilter(raw)!, session.clientId)
    this.#announce(raw, -1)
    return true
  }

  /** Puts a session's subscriptions (restored or moved in from `from`) into the index and announces them. */
  addSession(session: Session, from: number | undefined): void {
    for (const [raw, sub] of session.subscriptions) {
      const parsed = parseFilter(raw)
      if (parsed === undefined) continue
      this.index.add(parsed, session, sub)
      this.#announce(raw, 1)
    }
    if (from !== undefined) this.#restored.push([session.clientId, from])
    this.flush()
  }

  /** Removes a session's subscriptions (the session ended). */
  removeSession(session: Session): void {
    for (const raw of session.subscriptions.keys()) {
      this.index.remove(parseFilter(raw)!, session.clientId)
      this.#announce(raw, -1)
    }
  }

  /**
   * The session moves to worker `to`: its subscriptions leave the index but
   * stay announced until `to` announces them, and a stub forwards what still
   * arrives here for it (see forwarding.ts).
   */
  moveOut(session: Session, to: number): void {
    for (const raw of session.subscriptions.keys()) this.index.remove(parseFilter(raw)!, session.clientId)
    this.#stubs.set(
      session.clientId,
      newStub(session.clientId, to, session.subscriptions, Date.now() + 60_000),
    )
  }

  /** Forgets the stub of `clientId` (unless it points to `keepIfTo`, where the session still is). */
  dropStub(clientId: string, keepIfTo?: number): void {
    const stub = this.#stubs.get(clientId)
    if (stub === undefined || stub.to === keepIfTo) return
    this.#stubs.delete(clientId)
    // A stub whose target never announced the session still holds announced subscriptions
    if (stub.seqTo === undefined) for (const s of stub.subs) this.#announce(s.raw, -1)
  }

  /** Routes an accepted message; returns how many subscriptions and workers it went to. */
  publish(message: BrokerMessage): number {
    if (message.retain) this.#retain(message)
    const targets = this.table.targets(
      message.topic,
      (filter, group) => this.index.group(filter, group)?.members.size ?? 0,
    )
    const to: number[] = []
    const taken = new Set<string>()
    for (const worker of targets.workers) if (worker !== this.#self) to.push(worker)
    for (const [worker, groups] of targets.shared) {
      if (worker !== this.#self && !to.includes(worker)) to.push(worker)
      for (const [group, filter] of groups) taken.add(`${group}\u0000${filter}`)
    }
    const fromSeq = this.flush()
    const seen = to.map((w) => this.#seen.get(w) ?? 0)
    if (to.length > 0) {
      const shared = to.map((w) => targets.shared.get(w) ?? null)
      this.#o.send(to, { t: 'pub', from: this.#self, fromSeq, to, seen, shared, message })
    }
    const route: RouteInfo = { from: this.#self, fromSeq, to, seen, local: true }
    return to.length + this.#deliverLocal(message, route, taken, null)
  }

  /** A message another worker routed here. */
  onPub(m: PubMessage): void {
    const i = m.to.indexOf(this.#self)
    const route: RouteInfo = { from: m.from, fromSeq: m.fromSeq, to: m.to, seen: m.seen, local: false }
    this.#deliverLocal(m.message, route, null, m.shared[i] ?? [])
  }

  /**
   * Delivers to this worker's sessions: every plain subscriber, and one member
   * per share group [MQTT-4.8.2-3] — groups not `taken` by another worker
   * (local publish) or the groups this worker was chosen for (`assigned`).
   */
  #deliverLocal(
    message: BrokerMessage,
    route: RouteInfo,
    taken: Set<string> | null,
    assigned: [string, string][] | null,
  ): number {
    const merged = new Map<string, Merge>()
    let count = 0
    this.index.match(message.topic, (entry) => {
      for (const [clientId, { session, sub }] of entry.subscribers) {
        // No Local: never back to the publishing client [MQTT-3.8.3-3]
        if (sub.nl && clientId === message.origin) continue
        merge(merged, clientId, session, sub)
      }
      if (taken === null) return
      for (const [group, members] of entry.groups) {
        if (taken.has(`${group}\u0000${entry.filter}`)) continue
        const member = pickMember(members)
        if (member !== undefined) {
          member.session.deliver(
            deliveryFor(message, { qos: member.sub.qos, rap: member.sub.rap, ids: idsOf(member.sub) }),
            Date.now(),
          )
          count++
        }
      }
    })
    if (assigned !== null)
      for (const [group, filter] of assigned) count += this.#deliverShared(message, group, filter)
    if (this.#stubs.size > 0) this.#forwardStubs(message, route)
    const now = Date.now()
    for (const m of merged.values()) {
      m.session!.deliver(deliveryFor(message, m), now)
      count++
    }
    return count
  }

  #deliverShared(message: BrokerMessage, group: string, filter: string): number {
    const members = this.index.group(filter, group)
    const member = members === undefined ? undefined : pickMember(members)
    if (member !== undefined) {
      member.session.deliver(
        deliveryFor(message, { qos: member.sub.qos, rap: member.sub.rap, ids: idsOf(member.sub) }),
        Date.now(),
      )
      return 1
    }
    // The only member here moved away: its stub knows where
    const raw = `$share/${group}/${filter}`
    for (const stub of this.#stubs.values()) {
      const s = stub.subs.find((x) => x.raw === raw)
      if (s !== undefined) {
        this.#direct(stub, deliveryFor(message, { qos: s.sub.qos, rap: s.sub.rap, ids: idsOf(s.sub) }))
        return 1
      }
    }
    this.#o.drop('no_subscribers')
    return 0
  }

  #forwardStubs(message: BrokerMessage, route: RouteInfo): void {
    for (const stub of this.#stubs.values()) this.#forwardStub(stub, message, route)
  }

  #forwardStub(stub: Stub, message: BrokerMessage, route: RouteInfo): void {
    const merged = new Map<string, Merge>()
    for (const s of stub.subs) {
      if (s.parsed.group !== undefined || !matchesFilter(s.parsed.filter, message.topic)) continue
      if (s.sub.nl && stub.clientId === message.origin) continue
      merge(merged, stub.clientId, undefined, s.sub)
    }
    const m = merged.get(stub.clientId)
    if (m === undefined) return
    const decision = stubDecision(stub, route)
    if (decision === 'forward') this.#direct(stub, deliveryFor(message, m))
    else if (decision === 'wait') stub.waiting.push({ message, route })
  }

  #direct(stub: Stub, delivery: Delivery): void {
    this.#o.send([stub.to], { t: 'direct', from: this.#self, to: stub.to, clientId: stub.clientId, delivery })
  }

  #retain(message: BrokerMessage): void {
    const version = { time: Date.now(), worker: this.#self }
    const outcome = this.retained.set(message, version)
    if (outcome === 'limit') this.#o.drop('retained_limit')
    else if (outcome !== 'stale') this.post({ t: 'retain', from: this.#self, message, version })
  }

  /**
   * Resolves once every other worker applied this worker's subscription
   * changes so far, so a SUBACK means "published from anywhere, delivered".
   * Workers silent for `timeoutMs` are presumed gone and no longer awaited.
   */
  confirm(timeoutMs: number, barrier = false): Promise<void> {
    // A forced `subs` behind earlier posts: once acknowledged, the peers applied those posts too (causal order)
    const seq = this.flush(barrier)
    if (this.#confirmed(seq)) return Promise.resolve()
    return new Promise((resolve) => {
      const entry = {
        seq,
        done: () => {
          clearTimeout(timer)
          resolve()
        },
      }
      const timer = setTimeout(() => {
        for (const [peer, acked] of this.#peers) if (acked < seq) this.#peers.delete(peer)
        this.#confirmations = this.#confirmations.filter((c) => c !== entry)
        resolve()
      }, timeoutMs)
      this.#confirmations.push(entry)
    })
  }

  #confirmed(seq: number): boolean {
    for (const acked of this.#peers.values()) if (acked < seq) return false
    return true
  }

  #onSubsAck(from: number, seq: number): void {
    if (seq > (this.#peers.get(from) ?? 0)) this.#peers.set(from, seq)
    const waiting = this.#confirmations
    this.#confirmations = []
    for (const c of waiting) {
      if (this.#confirmed(c.seq)) c.done()
      else this.#confirmations.push(c)
    }
  }

  /** Handles the routing-related cluster messages; returns false for the others. */
  onMessage(m: ClusterMessage): boolean {
    if (m.t === 'bye') this.#peers.delete(m.from)
    else if (!this.#peers.has(m.from)) this.#peers.set(m.from, 0)
    switch (m.t) {
      case 'subs-ack':
        this.#onSubsAck(m.from, m.seq)
        return true
      case 'pub':
        this.onPub(m)
        return true
      case 'subs':
        this.#onSubs(m)
        return true
      case 'sync':
        this.table.replaceWorker(m.from, m.filters)
        this.#seen.set(m.from, m.seq)
        this.#o.post({ t: 'subs-ack', from: this.#self, to: m.from, seq: m.seq })
        return true
      case 'bye':
        this.table.removeWorker(m.from)
        this.#seen.delete(m.from)
        return false
      case 'retain':
        this.retained.set(m.message, m.version)
        return true
      case 'retain-sync-req':
        this.post({ t: 'retain-sync', from: this.#self, to: m.from, entries: this.retained.snapshot() })
        return true
      case 'retain-sync':
        for (const [message, version] of m.entries) this.retained.set(message, version)
        return true
      default:
        return false
    }
  }

  /** This worker's announced subscriptions, for a new worker's `sync`. */
  syncState(): { seq: number; filters: [string, number][] } {
    return { seq: this.flush(), filters: [...this.#advertised] }
  }

  #onSubs(m: SubsMessage): void {
    const seen = this.#seen.get(m.from) ?? 0
    if (m.seq <= seen) {
      this.#o.post({ t: 'subs-ack', from: this.#self, to: m.from, seq: seen })
      return
    }
    for (const [raw, delta] of m.deltas) this.table.apply(m.from, raw, delta)
    this.#seen.set(m.from, m.seq)
    this.#o.post({ t: 'subs-ack', from: this.#self, to: m.from, seq: m.seq })
    for (const [clientId, prev] of m.restored) {
      if (prev !== this.#self) continue
      const stub = this.#stubs.get(clientId)
      if (stub === undefined || stub.to !== m.from) continue
      stub.seqTo = m.seq
      stub.expires = Date.now() + this.#o.stubTtlMs
      const waiting = stub.waiting
      stub.waiting = []
      for (const w of waiting) this.#forwardStub(stub, w.message, w.route)
      // The new holder announced the session: stop announcing it here
      for (const s of stub.subs) this.#announce(s.raw, -1)
      this.flush()
    }
  }

  /** Drops stubs past their lifetime (called from a slow timer). */
  pruneStubs(now: number): void {
    for (const [clientId, stub] of this.#stubs) {
      if (stub.expires > now) continue
      this.#stubs.delete(clientId)
      if (stub.seqTo === undefined) {
        // The new holder never announced the session (it died): stop announcing it here too
        for (const s of stub.subs) this.#announce(s.raw, -1)
        for (let i = 0; i < stub.waiting.length; i++) this.#o.drop('no_subscribers')
      }
    }
  }
}

function idsOf(sub: Subscription): number[] | undefined {
  return sub.subscriptionId === undefined ? undefined : [sub.subscriptionId]
}
