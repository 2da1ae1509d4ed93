/**
 * One worker's broker: its sessions and the connections bound to them
 * (takeover, wills, expiry). Routing lives in router.ts, the session
 * directory and hand-over between workers in handover.ts, the hook adapters
 * in index.ts.
 */
import type { IConnectPacket } from 'mqtt-packet'
import type { CloseReason, HookContext } from '../handlers/types.ts'
import { ReasonCode } from '../mqtt/reason-codes.ts'
import type { ParsedFilter } from '../protocol/topic.ts'
import { Cluster, type ClusterMessage } from './cluster.ts'
import { Handover } from './handover.ts'
import type { BrokerMessage } from './message.ts'
import type { BrokerOptions } from './options.ts'
import type { RetainVersion } from './retained-store.ts'
import { Router } from './router.ts'
import {
  type Delivery,
  Session,
  type SessionLimits,
  type SessionLink,
  type SessionSnapshot,
  type Subscription,
} from './session.ts'
import { journalFor } from './store/journal.ts'
import type { BrokerStore, SessionRecord } from './store/types.ts'
import { runAt } from './timers.ts'
import { type Will, willFromConnect, willMessage } from './will.ts'

const NEVER = 0xffffffff

/** A live connection bound to a session. */
export interface Binding {
  readonly ctx: HookContext
  readonly session: Session
  readonly link: SessionLink
  /** Cleared by DISCONNECT 0x00 [3.1.1 MQTT-3.14.4-3] [5.0 MQTT-3.14.4-3]. */
  will: Will | undefined
  connected: boolean
  /** Set once the connection no longer owns the session (closed or taken over). */
  detached: boolean
}

export interface BrokerDeps {
  workerId: number
  channel: string
  options: BrokerOptions
  drop: (reason: string) => void
  /** Unconfirmed QoS 1/2 messages per peer beyond which publishes to it wait (backpressure.ts); 0: not tracked. Default: the high-water mark. */
  publishCredit?: number
  /** Where failures outside any connection's hook go (cluster messages, timers). */
  onError?: (err: unknown, where: string) => void
  /** Durable state (store/types.ts); without it sessions and retained messages live in memory only. */
  store?: BrokerStore
  /** Whether acknowledgements wait for the store's commit (false for `sync: 'off'`). Default true. */
  waitForCommit?: boolean
  /** Counts a share group message an ended member held, handed to another member (router.ts). */
  givenBack?: () => void
}

/** A hook context with the binding a broker hung on it. */
type BindingSlot = HookContext & Record<symbol, Binding | undefined>

/** What binding a connecting client to its session gave (see {@link Broker.connect}). */
export type ConnectOutcome = boolean | 'closed' | 'full' | 'store-full'

export class Broker {
  readonly workerId: number
  readonly options: BrokerOptions
  readonly router: Router
  readonly #cluster: Cluster
  readonly #drop: (reason: string) => void
  readonly #onError: (err: unknown, where: string) => void
  readonly #limits: SessionLimits
  readonly #sessions = new Map<string, Session>()
  readonly #bindings = new Map<string, Binding>()
  /**
   * Where a connection's binding hangs on its hook context: a property under this broker's own
   * symbol, as a WeakMap would key it, without the WeakMap's ephemeron entry per held connection
   * that every young-generation GC has to visit (#15).
   */
  readonly #bindingKey = Symbol('mqttd.broker.binding')
  readonly #closedEarly = new WeakSet<HookContext>()
  readonly #handover: Handover
  readonly #expiryTimers = new Map<string, () => void>()
  readonly #pendingWills = new Map<string, { will: Will; cancel: () => void }>()
  readonly #pruner: NodeJS.Timeout
  readonly #store: BrokerStore | undefined
  readonly #waitForCommit: boolean
  #closing = false
  #ownerPrefix: string | undefined
  #retainedRequested = false
  #retainedSynced: () => void = () => {}
  /** Resolves once a peer's retained messages arrived (never, when no peer answers). */
  readonly retainedSynced: Promise<void> = new Promise((resolve) => {
    this.#retainedSynced = resolve
  })

  constructor(deps: BrokerDeps) {
    this.workerId = deps.workerId
    this.options = deps.options
    this.#drop = deps.drop
    this.#onError = deps.onError ?? (() => {})
    this.#store = deps.store
    this.#waitForCommit = deps.store !== undefined && deps.waitForCommit !== false
    this.#limits = {
      maxQueuedMessages: deps.options.maxQueuedMessages,
      maxPendingWrites: deps.options.maxPendingWrites,
      highWater: deps.options.queueHighWater,
      lowWater: deps.options.queueLowWater,
      stallMs: deps.options.publishWaitMs,
    }
    // A throw in a channel listener would be uncaught and kill the worker with all its clients
    this.#cluster = new Cluster(
      deps.channel,
      deps.workerId,
      (m) => this.#guard(`cluster message ${m.t}`, () => this.#onMessage(m)),
      // A peer thread that exited without `bye` (crash): forget it as if it had said goodbye
      (peer) =>
        this.#guard('peer exit', () => {
          this.#onMessage({ t: 'bye', from: peer })
          // Its sessions are in the store: one survivor takes them, routes to them again, sends due wills
          if (this.#store !== undefined && this.#ownerPrefix !== undefined)
            this.adoptStored((owner) => owner === `${this.#ownerPrefix}${peer}`)
        }),
      deps.options.maxPendingWrites,
    )
    this.router = new Router({
      workerId: deps.workerId,
      retained: deps.options.retained,
      post: (m) => this.#cluster.post(m),
      postSoon: (m) => this.#cluster.postSoon(m),
      announce: (m) => this.#cluster.announce(m),
      catchUp: () => this.#cluster.catchUp(),
      drain: (peer) => this.#cluster.drain(peer),
      send: (to, m) => this.#cluster.send(to, m),
      drop: deps.drop,
      stubTtlMs: 60_000,
      maxQueuedMessages: deps.options.maxQueuedMessages,
      publishWaitMs: deps.options.publishWaitMs,
      publishCredit: deps.publishCredit ?? deps.options.queueHighWater,
      durable: this.#waitForCommit ? () => this.#store!.commit() : undefined,
      onRetained: deps.store === undefined ? undefined : (m, v, kept) => this.#storeRetained(m, v, kept),
      givenBack: deps.givenBack,
    })
    this.#handover = new Handover({
      self: deps.workerId,
      timeoutMs: deps.options.clusterTimeoutMs,
      maxBuffered: deps.options.maxQueuedMessages,
      post: (m) => this.router.post(m),
      postSoon: (m) => this.router.postSoon(m),
      session: (clientId) => this.#sessions.get(clientId),
      giveUp: (clientId, to, resume) => this.#giveUp(clientId, to, resume),
      install: (snapshot, from, buffered) => this.#install(snapshot, from, buffered),
      evict: (clientId) => this.#evict(clientId),
      moved: (clientId, holder) => this.router.dropStub(clientId, holder),
      drop: deps.drop,
    })
    this.#pruner = setInterval(
      () => this.#guard('stub pruning', () => this.router.pruneStubs(Date.now())),
      10_000,
    )
    this.#pruner.unref()
    this.router.post({ t: 'hello', from: this.workerId })
  }

  /** Peers reached over a MessagePort (the rest get data over the BroadcastChannel). */
  get meshPeers(): number {
    return this.#cluster.portCount
  }

  #guard(where: string, fn: () => void): void {
    try {
      fn()
    } catch (err) {
      this.#onError(err, where)
    }
  }

  /** Sessions held here, online and offline, with their queued and in-flight messages (one pass, for gauges). */
  sessionStats(): { online: number; offline: number; queued: number; inflight: number } {
    const stats = { online: 0, offline: 0, queued: 0, inflight: 0 }
    for (const session of this.#sessions.values()) {
      if (session.online) stats.online++
      else stats.offline++
      stats.queued += session.queuedCount
      stats.inflight += session.inflightCount
    }
    return stats
  }

  session(clientId: string): Session | undefined {
    return this.#sessions.get(clientId)
  }

  binding(ctx: HookContext): Binding | undefined {
    return (ctx as BindingSlot)[this.#bindingKey]
  }

  /**
   * Binds a connecting client to its session: takes over a connection with the
   * same client id here or on another worker [3.1.1 MQTT-3.1.4-2] [5.0 MQTT-3.1.4-3],
   * resumes or discards the session per Clean Start [3.1.1 MQTT-3.1.2-4] [3.1.1 MQTT-3.1.2-6] [5.0 MQTT-3.1.2-4] [5.0 MQTT-3.1.2-5] [5.0 MQTT-3.1.2-6].
   * Returns whether a session was present, or 'closed' / 'full' / 'store-full'; a promise of it only
   * when it must wait (a hand-over from another worker, a commit of a persistent session).
   */
  connect(
    ctx: HookContext,
    packet: IConnectPacket,
    link: SessionLink,
    expiryInterval: number,
  ): ConnectOutcome | Promise<ConnectOutcome> {
    const clientId = ctx.clientId
    if (!this.#sessions.has(clientId)) {
      const holder = this.#handover.holderElsewhere(clientId)
      if (holder !== undefined) {
        return this.#handover
          .take(holder, clientId, !(packet.clean ?? true))
          .then(() => (this.#closedEarly.has(ctx) ? 'closed' : this.#bind(ctx, packet, link, expiryInterval)))
      }
    }
    return this.#bind(ctx, packet, link, expiryInterval)
  }

  /** The rest of {@link connect}, with any session of this client id held elsewhere taken over. */
  #bind(
    ctx: HookContext,
    packet: IConnectPacket,
    link: SessionLink,
    expiryInterval: number,
  ): ConnectOutcome | Promise<ConnectOutcome> {
    const clientId = ctx.clientId
    const clean = packet.clean ?? true
    let session = this.#sessions.get(clientId)
    const old = this.#bindings.get(clientId)
    if (old !== undefined) this.#takeOver(old, clean)
    else if (session !== undefined) this.#settleWill(clientId, clean)
    this.#expiryTimers.get(clientId)?.()
    this.#expiryTimers.delete(clientId)
    if (session !== undefined && clean) {
      this.#endSession(session, false)
      session = undefined
    }
    const present = session !== undefined
    const store = this.#store
    const persistent = store !== undefined && expiryInterval > 0
    if (session === undefined) {
      if (this.#sessions.size >= this.options.maxSessionsPerWorker) return 'full'
      // New persistent state beyond persistence.maxBytes is refused
      if (persistent && store.full) return 'store-full'
      session = new Session(clientId, expiryInterval, this.#limits, this.#drop)
      this.#sessions.set(clientId, session)
    }
    session.expiryInterval = expiryInterval
    session.widen(link.receiveMaximum)
    if (!persistent && session.journal !== undefined) this.#store!.deleteSession(clientId)
    else if (persistent && session.journal === undefined) this.#persistSession(session)
    if (!persistent) session.journal = undefined
    // The session lives here now: a stub left from when it moved away must not forward any more
    this.router.dropStub(clientId)
    const binding: Binding = {
      ctx,
      session,
      link,
      will: willFromConnect(packet),
      connected: false,
      detached: false,
    }
    this.#bindings.set(clientId, binding)
    ;(ctx as BindingSlot)[this.#bindingKey] = binding
    this.#handover.claim(clientId)
    if (persistent) {
      this.#saveSession(session, binding.will, undefined)
      // CONNACK of a persistent session only once it is committed
      const committed = this.durable()
      if (committed !== undefined) return committed.then((ok) => (ok === false ? 'store-full' : present))
    }
    return present
  }

  /** Resolves false when what this turn wrote could not be committed; undefined when nothing waits. */
  durable(): Promise<boolean> | undefined {
    if (!this.#waitForCommit) return undefined
    if (this.#closing) return Promise.resolve(false)
    return this.#store!.commit()
  }

  /** Whether new persistent state is refused (persistence.maxBytes reached). */
  get storeFull(): boolean {
    return this.#store?.full === true
  }

  /** Adds or replaces a subscription (router.ts), stored when the session is persistent; returns whether it existed. */
  subscribe(session: Session, raw: string, parsed: ParsedFilter, sub: Subscription): boolean {
    const existed = this.router.subscribe(session, raw, parsed, sub)
    session.journal?.subscribed(raw, sub)
    return existed
  }

  /** Deletes a subscription; false when there was none. */
  unsubscribe(session: Session, raw: string): boolean {
    const removed = this.router.unsubscribe(session, raw)
    if (removed) session.journal?.unsubscribed(raw)
    return removed
  }

  /** A session became persistent: write it whole, then journal its changes. */
  #persistSession(session: Session): void {
    const store = this.#store!
    session.journal = journalFor(store, session.clientId)
    for (const [filter, sub] of session.subscriptions) store.putSubscription(session.clientId, filter, sub)
    for (const id of session.awaitingRelease ?? []) store.putInbound(session.clientId, id)
  }

  #saveSession(session: Session, will: Will | undefined, disconnectedAt: number | undefined): void {
    if (session.journal === undefined) return
    this.#store!.putSession({
      clientId: session.clientId,
      expiryInterval: session.expiryInterval,
      will,
      connected: disconnectedAt === undefined,
      disconnectedAt,
    })
  }

  #storeRetained(message: BrokerMessage, version: RetainVersion, kept: boolean): void {
    if (kept) this.#store!.putRetained(message, version.time, version.worker)
    else this.#store!.deleteRetained(message.topic, version.time, version.worker)
  }

  /**
   * Loads what the store holds for this worker: the retained messages, and the
   * sessions `isOrphan` says nobody serves (a previous run, a dead worker).
   * Call once at start, with the prefix naming this server's workers.
   */
  loadStored(ownerPrefix: string, isOrphan: (owner: string) => boolean): void {
    this.#ownerPrefix = ownerPrefix
    const store = this.#store
    if (store === undefined) return
    for (const { message, time, worker } of store.loadRetained(Date.now()))
      this.router.retained.set(message, { time, worker })
    this.adoptStored(isOrphan)
  }

  /**
   * Takes stored sessions nobody serves: routes to them again, and treats a
   * session whose client was connected as a lost connection: its will goes out
   * after its delay [5.0 MQTT-3.1.2-8], its expiry counts from then; a session that
   * expired meanwhile ends (with its will).
   */
  adoptStored(isOrphan: (owner: string) => boolean): number {
    const store = this.#store
    if (store === undefined || this.#closing) return 0
    const now = Date.now()
    let adopted = 0
    for (const record of store.adopt(isOrphan)) {
      const { clientId } = record
      // The client came back here or elsewhere first: that session is the live one
      if (this.#sessions.has(clientId) || this.#handover.holderElsewhere(clientId) !== undefined) continue
      const since = record.connected ? now : (record.disconnectedAt ?? now)
      if (record.expiryInterval !== NEVER && now - since >= record.expiryInterval * 1000) {
        if (record.will !== undefined) this.#publishWill(clientId, record.will)
        store.deleteSession(clientId)
        continue
      }
      const session = Session.fromSnapshot(snapshotOf(record), this.#limits, this.#drop)
      session.journal = journalFor(store, clientId)
      this.#sessions.set(clientId, session)
      this.router.addSession(session, undefined)
      this.#handover.claim(clientId)
      this.#offline(session, record.will, since)
      adopted++
    }
    return adopted
  }

  /** CONNACK was written: resend the unacknowledged and deliver what queued up. */
  connected(ctx: HookContext): void {
    const binding = this.binding(ctx)
    if (binding === undefined || binding.detached) return
    binding.connected = true
    binding.session.attach(binding.link)
  }

  /** DISCONNECT: 0x04 keeps the will, anything else from v3.1.1 or 0x00 drops it [3.1.1 MQTT-3.14.4-3] [5.0 MQTT-3.14.4-3]. */
  disconnect(
    ctx: HookContext,
    reasonCode: number | undefined,
    sessionExpiryInterval: number | undefined,
  ): void {
    const binding = this.binding(ctx)
    if (binding === undefined) return
    if (ctx.protocolVersion < 5 || (reasonCode ?? 0) === ReasonCode.normalDisconnection)
      binding.will = undefined
    if (sessionExpiryInterval !== undefined && binding.session.expiryInterval !== 0) {
      // A session that was 0 cannot be made persistent at DISCONNECT (5.0 §3.14.2.2.2)
      binding.session.expiryInterval = Math.min(sessionExpiryInterval, this.options.maxSessionExpiryInterval)
    }
    this.#saveSession(binding.session, binding.will, undefined)
  }

  /** The connection closed: publish or schedule its will, keep or end its session. */
  closed(ctx: HookContext, wasConnected: boolean): void {
    const binding = this.binding(ctx)
    if (binding === undefined) {
      this.#closedEarly.add(ctx)
      return
    }
    if (binding.detached) return
    this.#unbind(binding)
    const { session } = binding
    // Shutting down with a store: the session stays as stored (connected), its will goes out on restart
    if (this.#closing && session.journal !== undefined) return
    const will = wasConnected ? binding.will : undefined
    if (session.expiryInterval === 0) {
      if (will !== undefined) this.#publishWill(session.clientId, will)
      this.#endSession(session, true)
      return
    }
    this.#offline(session, will, Date.now())
  }

  /**
   * A session without connection since `since`: its will goes out after its
   * delay, it ends after its expiry interval [5.0 MQTT-3.1.2-23]; both stored.
   */
  #offline(session: Session, will: Will | undefined, since: number): void {
    let pending = will
    if (will !== undefined) {
      if (since + will.delay * 1000 <= Date.now()) {
        this.#publishWill(session.clientId, will)
        pending = undefined
      } else {
        const cancel = runAt(since + will.delay * 1000, () =>
          this.#guard('will delay', () => {
            this.#pendingWills.delete(session.clientId)
            this.#publishWill(session.clientId, will)
            if (this.#sessions.get(session.clientId) === session) this.#saveSession(session, undefined, since)
          }),
        )
        this.#pendingWills.set(session.clientId, { will, cancel })
      }
    }
    this.#saveSession(session, pending, since)
    if (session.expiryInterval !== NEVER) {
      const cancel = runAt(since + session.expiryInterval * 1000, () =>
        this.#guard('session expiry', () => {
          this.#expiryTimers.delete(session.clientId)
          if (this.#sessions.get(session.clientId) === session && !session.online) {
            this.#endSession(session, true)
          }
        }),
      )
      this.#expiryTimers.set(session.clientId, cancel)
    }
  }

  #unbind(binding: Binding): void {
    binding.detached = true
    binding.session.detach()
    if (this.#bindings.get(binding.session.clientId) === binding)
      this.#bindings.delete(binding.session.clientId)
  }

  /**
   * Closes a connection whose client id connected again. Its will goes out now
   * unless the new connection resumes the session within the will delay [5.0 MQTT-3.1.3-9].
   */
  #takeOver(old: Binding, sessionEnds: boolean): void {
    this.#unbind(old)
    const will = old.connected ? old.will : undefined
    if (will !== undefined && (sessionEnds || will.delay === 0)) this.#publishWill(old.session.clientId, will)
    old.ctx.close(ReasonCode.sessionTakenOver, undefined, 'takeover' satisfies CloseReason)
  }

  /** An offline session is taken: a delayed will is dropped when it resumes [5.0 MQTT-3.1.3-9], sent when it ends. */
  #settleWill(clientId: string, sessionEnds: boolean): void {
    const pending = this.#pendingWills.get(clientId)
    if (pending === undefined) return
    pending.cancel()
    this.#pendingWills.delete(clientId)
    if (sessionEnds) this.#publishWill(clientId, pending.will)
  }

  #publishWill(clientId: string, will: Will): void {
    this.router.publish(willMessage(will, clientId, Date.now()))
  }

  /** The session ends: its pending will goes out [5.0 MQTT-3.1.3-9], its subscriptions and messages go. */
  #endSession(session: Session, release: boolean, stored = true): void {
    const clientId = session.clientId
    this.#settleWill(clientId, true)
    if (session.journal !== undefined && stored) this.#store!.deleteSession(clientId)
    session.journal = undefined
    this.#expiryTimers.get(clientId)?.()
    this.#expiryTimers.delete(clientId)
    this.router.removeSession(session)
    session.clear()
    if (this.#sessions.get(clientId) === session) this.#sessions.delete(clientId)
    this.#handover.release(clientId, release)
  }

  /** Another worker takes the session held here (see Handover). */
  #giveUp(clientId: string, to: number, resume: boolean): SessionSnapshot | null {
    const session = this.#sessions.get(clientId)!
    const binding = this.#bindings.get(clientId)
    if (binding !== undefined) this.#takeOver(binding, !resume)
    else this.#settleWill(clientId, !resume)
    this.#expiryTimers.get(clientId)?.()
    this.#expiryTimers.delete(clientId)
    this.#sessions.delete(clientId)
    if (!resume) {
      this.router.removeSession(session)
      if (session.journal !== undefined) this.#store!.deleteSession(clientId)
      // the session ends here (a clean start elsewhere): share group messages it held go to another member
      session.journal = undefined
      session.clear()
      // Committed before the new holder hears of it, so its writes come after these
      this.#store?.flushNow()
      return null
    }
    this.router.moveOut(session, to)
    session.journal = undefined
    this.#store?.flushNow()
    return session.snapshot()
  }

  /**
   * Another node takes the session of `clientId` (its client connected there):
   * the connection here is taken over (v5 DISCONNECT 0x8E), the session leaves
   * this worker, its snapshot goes along when the client resumes. undefined:
   * this worker has no such session.
   */
  giveUpToNode(clientId: string, resume: boolean): SessionSnapshot | null | undefined {
    const session = this.#sessions.get(clientId)
    if (session === undefined) return undefined
    const binding = this.#bindings.get(clientId)
    if (binding !== undefined) this.#takeOver(binding, !resume)
    else this.#settleWill(clientId, !resume)
    const snapshot = resume ? session.snapshot() : null
    // stored state goes too: the other node holds the session now
    this.#endSession(session, true, true)
    this.#store?.flushNow()
    return snapshot
  }

  /** A session taken from another node, before its client binds to it (connect). */
  installFromNode(snapshot: SessionSnapshot): void {
    if (this.#sessions.has(snapshot.clientId)) return
    this.#install(snapshot, undefined, [])
  }

  /**
   * A persistent session of a dead node's worker, adopted here (nats-bridge.ts)
   * while its client is away: offline, so it expires after its interval, counted
   * from now (when its connection closed died with that node). undefined when
   * a worker of this node has a session of that client already.
   */
  adoptFromNode(snapshot: SessionSnapshot): Session | undefined {
    const { clientId } = snapshot
    // The client came back to this node first: that session is the live one
    if (this.#sessions.has(clientId) || this.#handover.holderElsewhere(clientId) !== undefined)
      return undefined
    this.#install(snapshot, undefined, [])
    const session = this.#sessions.get(clientId)!
    // the node's other workers learn where it is, so a client connecting there takes it from here
    this.#handover.claim(clientId)
    this.#offline(session, undefined, Date.now())
    return session
  }

  /** A session moved in from another worker. */
  #install(snapshot: SessionSnapshot, from: number | undefined, buffered: readonly Delivery[]): void {
    const session = Session.fromSnapshot(snapshot, this.#limits, this.#drop)
    if (this.#store !== undefined && snapshot.expiryInterval > 0)
      session.journal = journalFor(this.#store, snapshot.clientId)
    this.#sessions.set(snapshot.clientId, session)
    this.router.dropStub(snapshot.clientId)
    this.router.addSession(session, from)
    const now = Date.now()
    for (const delivery of buffered) session.deliver(delivery, now)
  }

  /** A later claim on another worker won: the connection here is taken over, the session ends. */
  #evict(clientId: string): void {
    const session = this.#sessions.get(clientId)
    if (session === undefined) return
    const binding = this.#bindings.get(clientId)
    if (binding !== undefined) this.#takeOver(binding, true)
    // The winner's session has the client id in the store now
    this.#endSession(session, false, false)
  }

  #onMessage(m: ClusterMessage): void {
    if (m.t === 'bye') this.#cluster.forget(m.from)
    else if (m.t === 'hello' || m.t === 'sync') this.#cluster.meet(m.from)
    this.router.onMessage(m)
    this.#handover.onMessage(m)
    if (m.t === 'hello') {
      const { seq, filters } = this.router.syncState()
      this.router.post({
        t: 'sync',
        from: this.workerId,
        to: m.from,
        seq,
        filters,
        sessions: this.#handover.held(),
      })
    }
    // Any peer has the whole replica: ask the first one heard from (a cold start's peers answer empty)
    if ((m.t === 'sync' || m.t === 'hello') && !this.#retainedRequested) {
      this.#retainedRequested = true
      this.router.post({ t: 'retain-sync-req', from: this.workerId, to: m.from })
    } else if (m.t === 'retain-sync') this.#retainedSynced()
  }

  /** The worker drains: tell the others to forget this worker's subscriptions and sessions. */
  close(): void {
    this.#closing = true
    this.#store?.close()
    clearInterval(this.#pruner)
    for (const cancel of this.#expiryTimers.values()) cancel()
    for (const { cancel } of this.#pendingWills.values()) cancel()
    this.#handover.close()
    this.router.post({ t: 'bye', from: this.workerId })
    this.#cluster.close()
  }
}

/** A stored session in the shape a hand-over carries. */
function snapshotOf(record: SessionRecord): SessionSnapshot {
  const inflight: SessionSnapshot['inflight'] = []
  const queue: Delivery[] = []
  for (const d of record.outbound) {
    const delivery = {
      message: d.message,
      qos: d.qos,
      retain: d.retain,
      subscriptionIds: d.subscriptionIds,
      seq: d.seq,
    }
    if (d.packetId === undefined) queue.push(delivery)
    else inflight.push([d.packetId, { ...delivery, state: d.state }])
  }
  return {
    clientId: record.clientId,
    expiryInterval: record.expiryInterval,
    subscriptions: record.subscriptions,
    inflight,
    queue,
    inbound: record.inbound,
  }
}
