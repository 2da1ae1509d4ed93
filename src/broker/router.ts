/**
 * Routes messages to subscribers on this worker and on the others, and keeps
 * this worker's replicas of the routing table and of the retained messages
 * in step with the cluster.
 */

import { type ParsedFilter, parseFilter } from '../protocol/topic.ts'
import { Announcer } from './announcer.ts'
import { Backpressure, type Held } from './backpressure.ts'
import type { ClusterMessage } from './cluster.ts'
import { deliveryFor, deliveryForSub, type Merge, merge } from './delivery.ts'
import { Forwarder, type RouteInfo } from './forwarding.ts'
import type { BrokerMessage } from './message.ts'
import { type RetainedLimits, RetainedStore, type RetainVersion } from './retained-store.ts'
import { RoutingTable } from './routing-table.ts'
import type { AckHold, Delivery, Session, Subscription } from './session.ts'
import { type FilterEntry, pickMember, type Subscriber, SubscriptionIndex } from './subscription-index.ts'

export interface RouterOptions {
  workerId: number
  retained: RetainedLimits
  /** Posts control to every worker, in causal order. */
  post: (message: ClusterMessage) => void
  /** Posts control that may wait for the end of the turn (default: `post`); see Cluster.postSoon. */
  postSoon?: (message: ClusterMessage) => void
  /** Posts a `subs` announcement (default: `post`); see Cluster.announce. */
  announce?: (message: SubsMessage) => void
  /** Before routing: applies the announcements peers already posted (see Cluster.catchUp). */
  catchUp?: () => void
  /** Handles at once the data already queued from `peer` (see Cluster.drain). */
  drain?: (peer: number) => void
  /** Sends data to the workers in `to`. */
  send: (to: readonly number[], message: ClusterMessage) => void
  drop: (reason: string) => void
  /** How long a forwarding stub lives once the new holder announced the session. */
  stubTtlMs: number
  /** Bounds what a forwarding stub holds while it cannot decide yet. */
  maxQueuedMessages: number
  /** Longest a publish waits for congested subscribers (backpressure.ts). */
  publishWaitMs: number
  /** Unconfirmed QoS 1/2 messages per peer beyond which a publish to it waits for its confirmation. */
  publishCredit: number
  /**
   * With a store: the commit of what this turn wrote. Every cross-worker QoS 1/2
   * message is then confirmed only once the receiver committed it, and the publish waits for that.
   */
  durable?: () => Promise<boolean> | undefined
  /** A retained message was stored (kept) or deleted here, as its origin. */
  onRetained?: (message: BrokerMessage, version: RetainVersion, kept: boolean) => void
  /** A share group message an ended member held went to another member (its metric). */
  givenBack?: () => void
}

/**
 * Routing beyond this node (the NATS bridge, nats-bridge.ts): told of every
 * change in this worker's subscription counts, handed every message published
 * here. With it, shared subscriptions are served cluster-wide by NATS (queue
 * groups), never by the workers of this node among themselves.
 */
export interface RemoteRoute {
  interest(raw: string, delta: number): void
  /**
   * The message leaves for the other nodes; QoS 1/2: resolves once NATS stored it (false: it could not).
   * `workers`: this node's other workers it was routed to.
   */
  publish(message: BrokerMessage, workers: readonly number[]): Promise<boolean> | undefined
  /** The stream id the next QoS 1/2 message published here gets (set before it is routed on this node). */
  nextId(): string
  /** The stream acknowledgement of this node's own message `id` on this worker, held by its persistent sessions. */
  hold(id: string): AckHold
}

/** What a share group member's hold releases without a cluster: nothing to acknowledge anywhere. */
function nothing(): void {}

/** No share group was taken by another worker (never modified). */
const NOT_TAKEN: ReadonlySet<string> = new Set()

type SubsMessage = Extract<ClusterMessage, { t: 'subs' }>
type PubMessage = Extract<ClusterMessage, { t: 'pub' }>

/** Delivers, and notes in `held` a QoS 1/2 delivery that reached a congested session. */
function deliverHeld(
  session: Session,
  delivery: Delivery,
  now: number,
  held: Held | undefined,
  hold?: AckHold,
): void {
  if (hold !== undefined) delivery.hold = hold
  session.deliver(delivery, now)
  if (held !== undefined && delivery.qos > 0 && session.congested) held.sessions.push(session)
}

export class Router {
  readonly index = new SubscriptionIndex()
  readonly table = new RoutingTable()
  readonly retained: RetainedStore
  readonly pressure: Backpressure
  readonly #o: RouterOptions
  readonly #self: number
  /** Per peer, the last `subs` seq applied to the table (over its port or the BroadcastChannel). */
  readonly #seen = new Map<number, number>()
  /** Per peer, the last `subs` seq acknowledged: received over the BroadcastChannel, in causal order. */
  readonly #acked = new Map<number, number>()
  /** Peers whose table here starts from their first announcement or a `sync`: their port copies apply. */
  readonly #based = new Set<number>()
  readonly #applied = (peer: number): number => this.#seen.get(peer) ?? 0
  readonly #catchUp: () => void
  readonly #drain: (peer: number) => void
  readonly #forwarder: Forwarder
  readonly #announcer: Announcer
  #remote: RemoteRoute | undefined

  constructor(options: RouterOptions) {
    this.#o = options
    this.#self = options.workerId
    this.retained = new RetainedStore(options.retained)
    this.pressure = new Backpressure({
      self: options.workerId,
      send: options.send,
      waitMs: options.publishWaitMs,
      credit: options.publishCredit,
    })
    this.#announcer = new Announcer(options.workerId, options.announce ?? options.post)
    this.#catchUp = options.catchUp ?? (() => {})
    this.#drain = options.drain ?? (() => {})
    this.#forwarder = new Forwarder({
      self: options.workerId,
      send: options.send,
      announce: (raw, delta) => this.#announce(raw, delta),
      flush: () => this.#announcer.flush(),
      drop: options.drop,
      ttlMs: options.stubTtlMs,
      maxWaiting: options.maxQueuedMessages,
    })
  }

  /** Posts `message` after any pending subscription changes, so receivers see them in causal order. */
  post(message: ClusterMessage): void {
    this.flush()
    this.#o.post(message)
  }

  /** Like {@link post}, for control that may go out with the rest of this turn's (see Cluster.postSoon). */
  postSoon(message: ClusterMessage): void {
    this.flush()
    ;(this.#o.postSoon ?? this.#o.post)(message)
  }

  /** Announces pending subscription changes now; returns this worker's `subs` seq. */
  flush(): number {
    return this.#announcer.flush()
  }

  /** See {@link Announcer.confirm}. */
  confirm(timeoutMs: number, barrier = false): Promise<void> {
    return this.#announcer.confirm(timeoutMs, barrier)
  }

  #announce(raw: string, delta: number): void {
    this.#announcer.announce(raw, delta)
    this.#remote?.interest(raw, delta)
  }

  /** Joins a cluster: from now on `remote` hears of every subscription count and every publish. */
  setRemote(remote: RemoteRoute): void {
    this.#remote = remote
    for (const [raw, count] of this.#announcer.snapshot().filters) remote.interest(raw, count)
  }

  /** Adds or replaces [3.1.1 MQTT-3.8.4-3] [5.0 MQTT-3.8.4-3] one subscription; returns whether it existed before. */
  subscribe(session: Session, raw: string, parsed: ParsedFilter, sub: Subscription): boolean {
    const existed = session.subscriptions.has(raw)
    session.setSubscription(raw, sub)
    this.index.add(parsed, session, sub)
    if (!existed) this.#announce(raw, 1)
    return existed
  }

  /** Deletes the subscription whose filter is exactly `raw` [3.1.1 MQTT-3.10.4-1] [5.0 MQTT-3.10.4-1]; false when there was none. */
  unsubscribe(session: Session, raw: string): boolean {
    if (!session.deleteSubscription(raw)) return false
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
    if (from !== undefined) this.#announcer.restored(session.clientId, from)
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
    this.#forwarder.add(session.clientId, to, session.subscriptions)
  }

  /** Forgets the stub of `clientId` (unless it points to `keepIfTo`, where the session still is). */
  dropStub(clientId: string, keepIfTo?: number): void {
    this.#forwarder.drop(clientId, keepIfTo)
  }

  /**
   * Routes an accepted message; returns how many subscriptions and workers it
   * went to. With `held`, collects the congested sessions and workers the
   * message reached (for the publisher's backpressure).
   */
  publish(message: BrokerMessage, held?: Held): number {
    // A SUBSCRIBE handled on another worker before this publish is routed to [issue 11]
    this.#catchUp()
    if (this.#remote !== undefined && message.qos > 0 && message.id === undefined)
      message.id = this.#remote.nextId()
    if (message.retain) this.#retain(message)
    // no share group among the matching filters (the usual case): the same workers every time
    const plain = this.table.plainTargets(message.topic, this.#self)
    const targets =
      plain !== undefined
        ? undefined
        : this.table.targets(
            message.topic,
            (filter, group) => this.index.group(filter, group)?.members.size ?? 0,
          )
    // shared with later publishes to the topic when plain: read, never modified, downstream
    const to = plain !== undefined ? (plain as number[]) : []
    if (targets !== undefined)
      for (const worker of targets.workers) if (worker !== this.#self) to.push(worker)
    let taken = NOT_TAKEN
    // in a cluster NATS picks the member of a share group, on this node or another
    if (targets !== undefined && targets.shared.size > 0 && this.#remote === undefined) {
      const groupsTaken = new Set<string>()
      for (const [worker, groups] of targets.shared) {
        if (worker !== this.#self && !to.includes(worker)) to.push(worker)
        for (const [group, filter] of groups) groupsTaken.add(`${group}\u0000${filter}`)
      }
      taken = groupsTaken
    }
    const fromSeq = this.flush()
    const seen = to.map((w) => this.#seen.get(w) ?? 0)
    if (to.length > 0) {
      const shared = targets === undefined ? to.map(() => null) : to.map((w) => targets.shared.get(w) ?? null)
      const pub: PubMessage = { t: 'pub', from: this.#self, fromSeq, to, seen, shared, message }
      const durable = this.#o.durable !== undefined
      if (held !== undefined && message.qos > 0 && (this.#o.publishCredit > 0 || durable))
        pub.id = this.pressure.track(to, held, durable)
      this.#o.send(to, pub)
    }
    const route: RouteInfo = { from: this.#self, fromSeq, to, seen, local: true }
    const count = to.length + this.#deliverLocal(message, route, taken, null, held)
    if (this.#remote !== undefined) {
      const exported = this.#remote.publish(message, to)
      if (held !== undefined && exported !== undefined) held.exported = exported
    }
    return count
  }

  /**
   * A message another node published (through NATS): delivered to this worker's
   * plain subscribers only, matched again with MQTT's rules (the NATS subject is
   * a superset: escaped levels, `$` topics under `>`). `hold`: its stream
   * acknowledgement, which each persistent session that takes it holds back.
   */
  deliverRemote(message: BrokerMessage, hold?: AckHold): number {
    const route: RouteInfo = { from: this.#self, fromSeq: 0, to: [], seen: [], local: false }
    return this.#deliverLocal(message, route, null, null, undefined, false, hold)
  }

  /**
   * A message NATS gave this worker for share group `group` of `filter` (any node may have published it).
   * `hold`: its acknowledgement in the group's consumer, which the member holds back until
   * it lets go of the message.
   */
  deliverRemoteShared(message: BrokerMessage, group: string, filter: string, hold?: AckHold): number {
    return this.#deliverShared(message, group, filter, true, undefined, hold)
  }

  /** A message another worker routed here. */
  onPub(m: PubMessage): void {
    const i = m.to.indexOf(this.#self)
    if (m.sharedOnly === true) {
      for (const [group, filter] of m.shared[i] ?? []) this.#deliverShared(m.message, group, filter, true)
      return
    }
    const route: RouteInfo = { from: m.from, fromSeq: m.fromSeq, to: m.to, seen: m.seen, local: false }
    if (m.id === undefined) {
      this.#deliverLocal(m.message, route, null, m.shared[i] ?? null)
      return
    }
    const held: Held = { sessions: [] }
    this.#deliverLocal(m.message, route, null, m.shared[i] ?? null, held)
    this.pressure.received(m.from, m.id, held.sessions, this.#o.durable?.())
  }

  /**
   * Delivers to this worker's sessions: every plain subscriber, and one member
   * per share group [5.0 §4.8.2] — groups not `taken` by another worker
   * (local publish) or the groups this worker was chosen for (`assigned`).
   */
  #deliverLocal(
    message: BrokerMessage,
    route: RouteInfo,
    taken: ReadonlySet<string> | null,
    assigned: [string, string][] | null,
    held?: Held,
    forward = true,
    hold?: AckHold,
  ): number {
    // this node's own message: its stream copy on this worker waits for the persistent sessions here
    const own = hold === undefined && message.id !== undefined ? this.#remote?.hold(message.id) : undefined
    if (own !== undefined) hold = own
    const entries = this.index.matches(message.topic)
    // in a cluster NATS picks the member of a share group, on this node or another
    const groups = this.#remote === undefined ? taken : null
    let count = 0
    let now = 0
    if (entries.length === 1) {
      // One matching filter: no client can match twice, so nothing to merge
      const entry = entries[0]!
      for (const [clientId, { session, sub }] of entry.subscribers) {
        // No Local: never back to the publishing client [5.0 MQTT-3.8.3-3]
        if (sub.nl && clientId === message.origin) continue
        if (now === 0) now = Date.now()
        deliverHeld(session, deliveryForSub(message, sub), now, held, hold)
        count++
      }
      if (groups !== null && entry.groups.size > 0) count += this.#deliverGroups(message, entry, groups, held)
    } else if (entries.length > 1) {
      const merged = new Map<string, Merge>()
      for (const entry of entries) {
        for (const [clientId, { session, sub }] of entry.subscribers) {
          if (sub.nl && clientId === message.origin) continue
          merge(merged, clientId, session, sub)
        }
        if (groups !== null && entry.groups.size > 0)
          count += this.#deliverGroups(message, entry, groups, held)
      }
      now = Date.now()
      for (const m of merged.values()) {
        deliverHeld(m.session!, deliveryFor(message, m), now, held, hold)
        count++
      }
    }
    if (assigned !== null)
      for (const [group, filter] of assigned)
        count += this.#deliverShared(message, group, filter, false, held)
    if (forward && this.#forwarder.size > 0) this.#forwarder.forward(message, route)
    if (own !== undefined && --own.count === 0) own.release()
    return count
  }

  /** One member of each share group of `entry` not `taken` by another worker [5.0 §4.8.2]. */
  #deliverGroups(
    message: BrokerMessage,
    entry: FilterEntry,
    taken: ReadonlySet<string>,
    held?: Held,
  ): number {
    let count = 0
    for (const [group, members] of entry.groups) {
      if (taken.has(`${group}\u0000${entry.filter}`)) continue
      const member = pickMember(members)
      if (member !== undefined) {
        this.#deliverMember(member, message, group, entry.filter, held)
        count++
      }
    }
    return count
  }

  #deliverShared(
    message: BrokerMessage,
    group: string,
    filter: string,
    rerouted = false,
    held?: Held,
    hold?: AckHold,
  ): number {
    const members = this.index.group(filter, group)
    const member = members === undefined ? undefined : pickMember(members)
    if (member !== undefined) {
      if (hold !== undefined)
        deliverHeld(member.session, deliveryForSub(message, member.sub), Date.now(), held, hold)
      else this.#deliverMember(member, message, group, filter, held)
      return 1
    }
    // The only member here moved away: its stub knows where
    if (this.#forwarder.forwardShared(message, group, filter)) return 1
    // The publisher's view was stale: once, hand the message to another worker with members
    if (!rerouted && this.#toOtherHolder(message, group, filter)) return 1
    this.#o.drop('no_subscribers')
    return 0
  }

  /** Sends `message` for share group `group` to one other worker holding members; false when there is none. */
  #toOtherHolder(message: BrokerMessage, group: string, filter: string): boolean {
    const others = this.table.groupHolders(filter, group).filter((w) => w !== this.#self)
    if (others.length === 0) return false
    const to = [others[Math.floor(Math.random() * others.length)]!]
    const seen = [this.#seen.get(to[0]!) ?? 0]
    const shared = [[[group, filter]] as [string, string][]]
    const fromSeq = this.flush()
    this.#o.send(to, { t: 'pub', from: this.#self, fromSeq, to, seen, shared, message, sharedOnly: true })
    return true
  }

  /**
   * Delivers `message` to `member` of share group `group`. Without a cluster a QoS 1/2 delivery
   * carries a hold that the member keeps until it lets go of the message, so that a session
   * ending with it unacknowledged gives it back to the group (in a cluster the group's consumer
   * does that, nats-bridge.ts).
   */
  #deliverMember(
    member: Subscriber,
    message: BrokerMessage,
    group: string,
    filter: string,
    held: Held | undefined,
  ): void {
    const delivery = deliveryForSub(message, member.sub)
    let hold: AckHold | undefined
    if (this.#remote === undefined && delivery.qos > 0) {
      // held by clean members too (always): their sessions end the soonest
      hold = {
        count: 0,
        always: true,
        release: nothing,
        giveBack: () => this.#giveBack(message, group, filter),
      }
    }
    deliverHeld(member.session, delivery, Date.now(), held, hold)
  }

  /**
   * A member's session ended holding `message` of share group `group` unacknowledged (session.ts
   * decides which: not a QoS 2 message already sent [5.0 MQTT-4.8.2-5]): another member gets it
   * [5.0 §4.8.2], as a new PUBLISH. Online members first, as the spec advises: one here,
   * else another worker holding members (it picks an online one when it has one), else an
   * offline member here, which gets it when its client returns.
   */
  #giveBack(message: BrokerMessage, group: string, filter: string): void {
    // the ended member left the index before its session let go of its messages (Broker.#endSession)
    const members = this.index.group(filter, group)
    const member = members === undefined ? undefined : pickMember(members)
    if (member?.session.online === true) this.#deliverMember(member, message, group, filter, undefined)
    else if (!this.#toOtherHolder(message, group, filter)) {
      if (member === undefined) {
        this.#o.drop('no_subscribers')
        return
      }
      this.#deliverMember(member, message, group, filter, undefined)
    }
    // counted once, here: a worker it went to delivers it as any share group message routed to it
    this.#o.givenBack?.()
  }

  #retain(message: BrokerMessage): void {
    const version = { time: Date.now(), worker: this.#self }
    const outcome = this.retained.set(message, version)
    if (outcome === 'limit') this.#o.drop('retained_limit')
    else if (outcome !== 'stale') {
      this.#o.onRetained?.(message, version, outcome === 'stored')
      this.post({ t: 'retain', from: this.#self, message, version })
    }
  }

  /** Handles the routing-related cluster messages; returns false for the others. */
  onMessage(m: ClusterMessage): boolean {
    this.#announcer.heard(m.from, m.t === 'bye')
    switch (m.t) {
      case 'subs-ack':
        this.#announcer.acknowledged(m.from, m.seq)
        return true
      case 'pub':
        this.onPub(m)
        return true
      case 'subs':
        this.#onSubs(m)
        return true
      case 'sync':
        // Port copies may have taken the table past the snapshot (from its first announcement on)
        if (m.seq >= this.#applied(m.from)) {
          this.table.replaceWorker(m.from, m.filters)
          this.#seen.set(m.from, m.seq)
        }
        this.#based.add(m.from)
        if (m.seq > (this.#acked.get(m.from) ?? 0)) this.#acked.set(m.from, m.seq)
        this.#o.post({ t: 'subs-ack', from: this.#self, to: m.from, seq: m.seq })
        return true
      case 'bye':
        this.table.removeWorker(m.from)
        this.#seen.delete(m.from)
        this.#acked.delete(m.from)
        this.#based.delete(m.from)
        this.pressure.forget(m.from)
        return false
      case 'pub-ok':
        this.pressure.confirmed(m.from, m.ids, m.failed)
        return true
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
    return this.#announcer.snapshot()
  }

  /**
   * A `subs` announcement, over the pair's port (`fast`, applied at once when
   * it is the next in sequence) or over the BroadcastChannel (applied unless
   * its port copy was, then acknowledged: SUBACK and the retained barrier rest
   * on the BroadcastChannel's causal order).
   */
  #onSubs(m: SubsMessage): void {
    if (m.fast === true) {
      const seen = this.#applied(m.from)
      if (m.seq === seen + 1 && (this.#based.has(m.from) || m.seq === 1)) this.#applySubs(m)
      return
    }
    // Port copies posted before this message are applied first, in sequence
    this.#drain(m.from)
    const acked = this.#acked.get(m.from) ?? 0
    if (m.seq <= acked) {
      this.#o.post({ t: 'subs-ack', from: this.#self, to: m.from, seq: acked })
      return
    }
    if (m.seq > this.#applied(m.from)) this.#applySubs(m)
    this.#acked.set(m.from, m.seq)
    this.#o.post({ t: 'subs-ack', from: this.#self, to: m.from, seq: m.seq })
  }

  #applySubs(m: SubsMessage): void {
    if (m.seq === 1) this.#based.add(m.from)
    for (const [raw, delta] of m.deltas) this.table.apply(m.from, raw, delta)
    this.#seen.set(m.from, m.seq)
    for (const [clientId, prev] of m.restored)
      if (prev === this.#self) this.#forwarder.restored(clientId, m.from, m.seq)
  }

  /** Drops stubs past their lifetime (called from a slow timer). */
  pruneStubs(now: number): void {
    this.#forwarder.prune(now)
  }
}
