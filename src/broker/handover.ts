/**
 * Sessions across workers: the directory (which worker holds which client
 * id, from `held` / `released` announcements) and the hand-over of a session
 * to the worker its client reconnects to (`take` / `given`, and the `direct`
 * deliveries a forwarding stub sends meanwhile). The sessions themselves stay
 * with the Broker, reached through {@link HandoverHost}.
 */
import type { ClusterMessage, Stamp } from './cluster.ts'
import type { Delivery, Session, SessionSnapshot } from './session.ts'
import { runAt } from './timers.ts'

export interface HandoverHost {
  readonly self: number
  readonly timeoutMs: number
  /** Most deliveries buffered for a session on its way here. */
  readonly maxBuffered: number
  post(message: ClusterMessage): void
  /** Posts with the rest of this turn's control, before any later post (the directory's `held` / `released`). */
  postSoon(message: ClusterMessage): void
  session(clientId: string): Session | undefined
  /** Gives up the session held here to worker `to`: its snapshot when the client resumes, else null. */
  giveUp(clientId: string, to: number, resume: boolean): SessionSnapshot | null
  /** Puts a session moved in from `from` here, then the deliveries forwarded for it meanwhile. */
  install(snapshot: SessionSnapshot, from: number, buffered: Delivery[]): void
  /** Another worker's later claim won: close and end the session here. */
  evict(clientId: string): void
  /** The session moved on: a stub pointing elsewhere than `holder` must stop forwarding. */
  moved(clientId: string, holder: number): void
  drop(reason: string): void
}

interface PendingTake {
  clientId: string
  resume: boolean
  redirects: number
  resolve: () => void
  cancel: () => void
}

function newer(a: Stamp, b: Stamp): boolean {
  return a.time > b.time || (a.time === b.time && a.worker > b.worker)
}

export class Handover {
  readonly #host: HandoverHost
  readonly #directory = new Map<string, Stamp>()
  readonly #takes = new Map<number, PendingTake>()
  /** Deliveries forwarded by the worker a session is coming from, until it arrives. */
  readonly #incoming = new Map<string, { from: number; buffer: Delivery[] }>()
  #nextReq = 0

  constructor(host: HandoverHost) {
    this.#host = host
  }

  /** The worker holding `clientId`'s session, when another one does. */
  holderElsewhere(clientId: string): number | undefined {
    const worker = this.#directory.get(clientId)?.worker
    return worker === this.#host.self ? undefined : worker
  }

  /** This worker holds `clientId` now: announce it. */
  claim(clientId: string): void {
    const stamp = { time: Date.now(), worker: this.#host.self }
    this.#directory.set(clientId, stamp)
    // one post per turn for all its connects and closes, not one per connection (cluster.ts)
    this.#host.postSoon({ t: 'held', from: this.#host.self, clientId, stamp })
  }

  /** The session of `clientId` ended here; `announce` tells the others. */
  release(clientId: string, announce: boolean): void {
    if (this.#directory.get(clientId)?.worker !== this.#host.self) return
    this.#directory.delete(clientId)
    if (announce) this.#host.postSoon({ t: 'released', from: this.#host.self, clientId })
  }

  /** The sessions this worker holds, for a new worker's `sync`. */
  held(): [string, Stamp][] {
    const out: [string, Stamp][] = []
    for (const [clientId, stamp] of this.#directory)
      if (stamp.worker === this.#host.self) out.push([clientId, stamp])
    return out
  }

  /** Asks `worker` for `clientId`'s session; resolves once it is installed here, refused, or timed out. */
  take(worker: number, clientId: string, resume: boolean): Promise<void> {
    return new Promise((resolve) => {
      const reqId = ++this.#nextReq
      this.#incoming.set(clientId, { from: worker, buffer: [] })
      const cancel = runAt(Date.now() + this.#host.timeoutMs, () => {
        this.#takes.delete(reqId)
        this.#incoming.delete(clientId)
        resolve()
      })
      this.#takes.set(reqId, { clientId, resume, redirects: 0, resolve, cancel })
      this.#host.post({ t: 'take', from: this.#host.self, to: worker, reqId, clientId, resume })
    })
  }

  /** Handles the directory and hand-over messages; returns false for the others. */
  onMessage(m: ClusterMessage): boolean {
    switch (m.t) {
      case 'sync':
        for (const [clientId, stamp] of m.sessions) this.#learnHolder(clientId, stamp)
        return true
      case 'bye':
        for (const [clientId, stamp] of this.#directory)
          if (stamp.worker === m.from) this.#directory.delete(clientId)
        return true
      case 'held':
        this.#learnHolder(m.clientId, m.stamp)
        return true
      case 'released':
        if (this.#directory.get(m.clientId)?.worker === m.from) this.#directory.delete(m.clientId)
        return true
      case 'take':
        this.#onTake(m)
        return true
      case 'given':
        this.#onGiven(m)
        return true
      case 'direct':
        this.#onDirect(m.from, m.clientId, m.delivery)
        return true
      default:
        return false
    }
  }

  /** Another worker wants a session held here. */
  #onTake(m: Extract<ClusterMessage, { t: 'take' }>): void {
    const host = this.#host
    const reply = { t: 'given', from: host.self, to: m.from, reqId: m.reqId, clientId: m.clientId } as const
    if (host.session(m.clientId) === undefined) {
      // Not here (any more): point to where it went, if known
      const holder = this.#directory.get(m.clientId)?.worker
      const redirect = holder !== undefined && holder !== host.self && holder !== m.from ? holder : undefined
      host.post({ ...reply, snapshot: null, ...(redirect === undefined ? {} : { redirect }) })
      return
    }
    this.#directory.set(m.clientId, { time: Date.now(), worker: m.from })
    host.post({ ...reply, snapshot: host.giveUp(m.clientId, m.from, m.resume) })
  }

  #onGiven(m: Extract<ClusterMessage, { t: 'given' }>): void {
    const pending = this.#takes.get(m.reqId)
    // Too late: the client went on with a new session; the stub on `from` expires by itself
    if (pending === undefined) return
    if (m.redirect !== undefined && pending.redirects < 2) {
      pending.redirects++
      const incoming = this.#incoming.get(m.clientId)
      if (incoming !== undefined) incoming.from = m.redirect
      const { self } = this.#host
      this.#host.post({
        t: 'take',
        from: self,
        to: m.redirect,
        reqId: m.reqId,
        clientId: m.clientId,
        resume: pending.resume,
      })
      return
    }
    pending.cancel()
    this.#takes.delete(m.reqId)
    const buffered = this.#incoming.get(m.clientId)?.buffer ?? []
    this.#incoming.delete(m.clientId)
    if (m.snapshot !== null && this.#host.session(m.clientId) === undefined)
      this.#host.install(m.snapshot, m.from, buffered)
    pending.resolve()
  }

  /**
   * A delivery forwarded by another worker's stub. While the session is on its
   * way here, only the worker it comes from may forward: a stale stub elsewhere
   * would duplicate what that worker already put in the session.
   */
  #onDirect(from: number, clientId: string, delivery: Delivery): void {
    const session = this.#host.session(clientId)
    if (session !== undefined) {
      session.deliver(delivery, Date.now())
      return
    }
    const incoming = this.#incoming.get(clientId)
    if (incoming !== undefined && incoming.from === from && incoming.buffer.length < this.#host.maxBuffered) {
      incoming.buffer.push(delivery)
    } else this.#host.drop('client_offline')
  }

  /**
   * Another worker claims a client id. When two workers claimed it at once
   * (neither saw the other's claim), the later claim wins and the older
   * session here is closed as taken over.
   */
  #learnHolder(clientId: string, stamp: Stamp): void {
    const known = this.#directory.get(clientId)
    if (known !== undefined && !newer(stamp, known)) return
    this.#directory.set(clientId, stamp)
    this.#host.moved(clientId, stamp.worker)
    if (stamp.worker !== this.#host.self && this.#host.session(clientId) !== undefined)
      this.#host.evict(clientId)
  }

  close(): void {
    for (const take of this.#takes.values()) take.cancel()
  }
}
