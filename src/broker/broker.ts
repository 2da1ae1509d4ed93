/**
 * One worker's broker: its sessions and the connections bound to them
 * (takeover, wills, expiry). Routing lives in router.ts, the session
 * directory and hand-over between workers in handover.ts, the hook adapters
 * in index.ts.
 */
import type { IConnectPacket } from 'mqtt-packet'
import type { CloseReason, HookContext } from '../handlers/types.ts'
import { ReasonCode } from '../mqtt/reason-codes.ts'
import { Cluster, type ClusterMessage } from './cluster.ts'
import { Handover } from './handover.ts'
import type { BrokerOptions } from './options.ts'
import { Router } from './router.ts'
import {
  type Delivery,
  Session,
  type SessionLimits,
  type SessionLink,
  type SessionSnapshot,
} from './session.ts'
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
}

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
  readonly #byCtx = new WeakMap<HookContext, Binding>()
  readonly #closedEarly = new WeakSet<HookContext>()
  readonly #handover: Handover
  readonly #expiryTimers = new Map<string, () => void>()
  readonly #pendingWills = new Map<string, { will: Will; cancel: () => void }>()
  readonly #pruner: NodeJS.Timeout
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
      (peer) => this.#guard('peer exit', () => this.#onMessage({ t: 'bye', from: peer })),
    )
    this.router = new Router({
      workerId: deps.workerId,
      retained: deps.options.retained,
      post: (m) => this.#cluster.post(m),
      send: (to, m) => this.#cluster.send(to, m),
      drop: deps.drop,
      stubTtlMs: 60_000,
      maxQueuedMessages: deps.options.maxQueuedMessages,
      publishWaitMs: deps.options.publishWaitMs,
      publishCredit: deps.publishCredit ?? deps.options.queueHighWater,
    })
    this.#handover = new Handover({
      self: deps.workerId,
      timeoutMs: deps.options.clusterTimeoutMs,
      maxBuffered: deps.options.maxQueuedMessages,
      post: (m) => this.router.post(m),
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

  session(clientId: string): Session | undefined {
    return this.#sessions.get(clientId)
  }

  binding(ctx: HookContext): Binding | undefined {
    return this.#byCtx.get(ctx)
  }

  /**
   * Binds a connecting client to its session: takes over a connection with the
   * same client id here or on another worker [3.1.1 MQTT-3.1.4-2] [5.0 MQTT-3.1.4-3],
   * resumes or discards the session per Clean Start [3.1.1 MQTT-3.1.2-4] [3.1.1 MQTT-3.1.2-6] [5.0 MQTT-3.1.2-4] [5.0 MQTT-3.1.2-5] [5.0 MQTT-3.1.2-6].
   * Returns whether a session was present, or 'closed' / 'full'.
   */
  async connect(
    ctx: HookContext,
    packet: IConnectPacket,
    link: SessionLink,
    expiryInterval: number,
  ): Promise<boolean | 'closed' | 'full'> {
    const clientId = ctx.clientId
    const clean = packet.clean ?? true
    if (!this.#sessions.has(clientId)) {
      const holder = this.#handover.holderElsewhere(clientId)
      if (holder !== undefined) await this.#handover.take(holder, clientId, !clean)
      if (this.#closedEarly.has(ctx)) return 'closed'
    }
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
    if (session === undefined) {
      if (this.#sessions.size >= this.options.maxSessionsPerWorker) return 'full'
      session = new Session(clientId, expiryInterval, this.#limits, this.#drop)
      this.#sessions.set(clientId, session)
    }
    session.expiryInterval = expiryInterval
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
    this.#byCtx.set(ctx, binding)
    this.#handover.claim(clientId)
    return present
  }

  /** CONNACK was written: resend the unacknowledged and deliver what queued up. */
  connected(ctx: HookContext): void {
    const binding = this.#byCtx.get(ctx)
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
    const binding = this.#byCtx.get(ctx)
    if (binding === undefined) return
    if (ctx.protocolVersion < 5 || (reasonCode ?? 0) === ReasonCode.normalDisconnection)
      binding.will = undefined
    if (sessionExpiryInterval !== undefined && binding.session.expiryInterval !== 0) {
      // A session that was 0 cannot be made persistent at DISCONNECT (5.0 §3.14.2.2.2)
      binding.session.expiryInterval = Math.min(sessionExpiryInterval, this.options.maxSessionExpiryInterval)
    }
  }

  /** The connection closed: publish or schedule its will, keep or end its session. */
  closed(ctx: HookContext, wasConnected: boolean): void {
    const binding = this.#byCtx.get(ctx)
    if (binding === undefined) {
      this.#closedEarly.add(ctx)
      return
    }
    if (binding.detached) return
    this.#unbind(binding)
    const { session } = binding
    const will = wasConnected ? binding.will : undefined
    if (session.expiryInterval === 0) {
      if (will !== undefined) this.#publishWill(session.clientId, will)
      this.#endSession(session, true)
      return
    }
    // [5.0 MQTT-3.1.2-23] the session outlives the connection for its expiry interval
    if (will !== undefined) {
      if (will.delay === 0) this.#publishWill(session.clientId, will)
      else {
        const cancel = runAt(Date.now() + will.delay * 1000, () =>
          this.#guard('will delay', () => {
            this.#pendingWills.delete(session.clientId)
            this.#publishWill(session.clientId, will)
          }),
        )
        this.#pendingWills.set(session.clientId, { will, cancel })
      }
    }
    if (session.expiryInterval !== NEVER) {
      const cancel = runAt(Date.now() + session.expiryInterval * 1000, () =>
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
  #endSession(session: Session, release: boolean): void {
    const clientId = session.clientId
    this.#settleWill(clientId, true)
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
      return null
    }
    this.router.moveOut(session, to)
    return session.snapshot()
  }

  /** A session moved in from another worker. */
  #install(snapshot: SessionSnapshot, from: number, buffered: readonly Delivery[]): void {
    const session = Session.fromSnapshot(snapshot, this.#limits, this.#drop)
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
    this.#endSession(session, false)
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
    clearInterval(this.#pruner)
    for (const cancel of this.#expiryTimers.values()) cancel()
    for (const { cancel } of this.#pendingWills.values()) cancel()
    this.#handover.close()
    this.router.post({ t: 'bye', from: this.workerId })
    this.#cluster.close()
  }
}
