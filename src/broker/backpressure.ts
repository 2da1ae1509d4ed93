/**
 * Publisher backpressure: a QoS 1/2 publish that reaches a congested session
 * (online, its queue at the high-water mark, still acknowledging) is
 * acknowledged only once that session is relieved (queue at the low-water
 * mark, offline, stalled or ended), or after `waitMs`. The framework lets a
 * publisher have at most Receive Maximum unacknowledged publishes, and a
 * publish held back here stops its connection from reading further packets
 * (unlike one that only waits for a commit, handlers/ack-wait.ts), so a
 * held-back acknowledgement slows that publisher down to what the subscriber
 * takes, instead of the broker accepting faster than it delivers and dropping
 * at `maxQueuedMessages`.
 *
 * Across workers it is credit-based: every QoS 1/2 `pub` carries an id, and
 * the receiving worker confirms it (batched, one `pub-ok` per turn) at once,
 * or once the congested sessions it reached are relieved. A publishing worker
 * with more than `credit` unconfirmed messages at a peer holds each further
 * publish to that peer until that very message is confirmed: a publish to an
 * uncongested subscriber then costs one round trip, one to a congested
 * subscriber waits for its relief. So a peer's congested queue grows by at most
 * `credit` plus one message per waiting publisher beyond its high-water mark,
 * however late the workers hear of each other. See docs/broker-design.md.
 */
import type { ClusterMessage } from './cluster.ts'
import type { Session } from './session.ts'

/** One tracked cross-worker message: how many peers have yet to confirm it. */
interface Tracked {
  pending: number
  resolve: (() => void) | undefined
  /** A peer could not commit it, or left before confirming: not durable (with a store). */
  failed?: boolean
}

/** One peer's unconfirmed messages: how many, and those a publish waits for, by id. */
interface PeerLedger {
  count: number
  waiting: Map<number, Tracked>
}

/** What one publish waits for: congested sessions here, and a cross-worker message awaiting confirmation. */
export interface Held {
  sessions: Session[]
  remote?: Tracked
  /** In a cluster: resolves once NATS stored the message for the other nodes (false: it could not). */
  exported?: Promise<boolean>
  /**
   * A peer is beyond its credit: the publisher is read no further until this
   * message is confirmed. Without it, a remote wait (with a store) is only for
   * the peer's commit, and the publisher's next packets are read meanwhile.
   */
  overCredit?: boolean
}

/** Messages confirmed together once one promise settles (a group commit, or a congested session's relief). */
interface AwaitingGroup {
  done: Promise<unknown>
  from: number[]
  ids: number[]
}

export interface BackpressureOptions {
  self: number
  /** Sends data to the workers in `to`. */
  send: (to: readonly number[], message: ClusterMessage) => void
  /** Longest a publish waits. */
  waitMs: number
  /** Unconfirmed messages at one peer beyond which a publish to it waits for its own confirmation. */
  credit: number
}

export class Backpressure {
  readonly #o: BackpressureOptions
  #nextId = 0
  /** Peer → its unconfirmed messages by id. */
  readonly #unconfirmed = new Map<number, PeerLedger>()
  /** Peer → ids to confirm in this turn's `pub-ok`. */
  readonly #toConfirm = new Map<number, number[]>()
  /** Peer → ids of this turn's `pub-ok` that could not be committed here. */
  readonly #failed = new Map<number, number[]>()
  #flushPending = false
  /** Messages confirmed once the current group commit is durable, or the congested session they reached is relieved. */
  #awaiting: AwaitingGroup | undefined
  #sharedTimeout: Promise<void> | undefined
  #sharedTimeoutAt = 0

  constructor(options: BackpressureOptions) {
    this.#o = options
  }

  /**
   * A QoS 1/2 message goes to the peers in `to`: returns its id. When a peer
   * is beyond its credit, `held.remote` is set so the publish waits for it.
   */
  track(to: readonly number[], held: Held, always = false): number {
    const id = ++this.#nextId
    let over = false
    for (const peer of to) {
      let ledger = this.#unconfirmed.get(peer)
      if (ledger === undefined) {
        ledger = { count: 0, waiting: new Map() }
        this.#unconfirmed.set(peer, ledger)
      }
      if (ledger.count >= this.#o.credit) over = true
      ledger.count++
    }
    // With a store every such publish waits: its confirmation means the peer committed it
    if (!over && !always) return id
    // Only a message something waits for is remembered by id: the others are counted (an object and
    // a map entry per message lived until the peer's confirmation, long enough to reach the old generation)
    const tracked: Tracked = { pending: to.length, resolve: undefined }
    for (const peer of to) this.#unconfirmed.get(peer)!.waiting.set(id, tracked)
    held.remote = tracked
    if (over) held.overCredit = true
    return id
  }

  /** `from`'s message `id` was delivered here: confirm it now, or once the congested sessions it reached are relieved. */
  received(from: number, id: number, congested: readonly Session[], committed?: Promise<boolean>): void {
    if (congested.length === 0 && committed === undefined) {
      this.#confirm(from, id, true)
      return
    }
    if (congested.length === 0) {
      // Everything of one group commit shares its promise: one reaction for the group, not one per message
      this.#confirmOn(committed!, from, id)
      return
    }
    // whenRelieved always settles: relief, going offline, a stall (stallMs without acks) or the session's end
    if (congested.length === 1 && committed === undefined) {
      // One congested subscriber holds back up to `credit` messages of every peer until its relief:
      // they share its promise, so one reaction confirms them all instead of a closure per message
      this.#confirmOn(congested[0]!.whenRelieved(), from, id)
      return
    }
    const relieved =
      congested.length === 1
        ? congested[0]!.whenRelieved()
        : Promise.all(congested.map((s) => s.whenRelieved()))
    if (committed === undefined) {
      void relieved.then(() => this.#confirm(from, id, true))
      return
    }
    void Promise.all([committed, relieved]).then(([ok]) => this.#confirm(from, id, ok !== false))
  }

  /** Confirms `from`'s `id` once `done` settles (failed when it resolves false), with the others waiting on it. */
  #confirmOn(done: Promise<unknown>, from: number, id: number): void {
    let group = this.#awaiting
    if (group === undefined || group.done !== done) {
      const started: AwaitingGroup = { done, from: [], ids: [] }
      group = started
      this.#awaiting = started
      void done.then((value) => {
        if (this.#awaiting === started) this.#awaiting = undefined
        for (let i = 0; i < started.ids.length; i++)
          this.#confirm(started.from[i]!, started.ids[i]!, value !== false)
      })
    }
    group.from.push(from)
    group.ids.push(id)
  }

  #confirm(to: number, id: number, ok: boolean): void {
    if (!ok) {
      const failed = this.#failed.get(to)
      if (failed === undefined) this.#failed.set(to, [id])
      else failed.push(id)
    }
    const ids = this.#toConfirm.get(to)
    if (ids === undefined) this.#toConfirm.set(to, [id])
    else ids.push(id)
    if (this.#flushPending) return
    this.#flushPending = true
    queueMicrotask(() => {
      this.#flushPending = false
      for (const [peer, list] of this.#toConfirm) {
        const failed = this.#failed.get(peer)
        this.#o.send([peer], {
          t: 'pub-ok',
          from: this.#o.self,
          to: peer,
          ids: list,
          ...(failed === undefined ? {} : { failed }),
        })
      }
      this.#toConfirm.clear()
      this.#failed.clear()
    })
  }

  /** A peer confirmed messages. */
  confirmed(from: number, ids: readonly number[], failed?: readonly number[]): void {
    const ledger = this.#unconfirmed.get(from)
    if (ledger === undefined) return
    // a confirmation from before the peer was forgotten and came back must not count below zero
    ledger.count = Math.max(0, ledger.count - ids.length)
    const map = ledger.waiting
    if (map.size === 0) return
    for (const id of failed ?? []) {
      const tracked = map.get(id)
      if (tracked !== undefined) tracked.failed = true
    }
    for (const id of ids) {
      const tracked = map.get(id)
      if (tracked === undefined) continue
      map.delete(id)
      settle(tracked)
    }
  }

  /** A peer left: nothing it had will be confirmed. */
  forget(peer: number): void {
    const ledger = this.#unconfirmed.get(peer)
    this.#unconfirmed.delete(peer)
    this.#toConfirm.delete(peer)
    this.#failed.delete(peer)
    if (ledger === undefined) return
    for (const tracked of ledger.waiting.values()) {
      tracked.failed = true
      settle(tracked)
    }
  }

  /** Unconfirmed messages at `peer` (for tests and the design doc's bound). */
  unconfirmed(peer: number): number {
    return this.#unconfirmed.get(peer)?.count ?? 0
  }

  /**
   * Resolves once everything in `held` is relieved or confirmed, or after
   * `waitMs`. Untimed (with a store): a confirmation means the peer committed
   * the message, which a timeout must not stand in for; a congested session
   * still settles by relief or stall (`stallMs`), a dead peer by `forget`, and
   * past `limits.hookTimeoutMs` the framework closes the publisher unacknowledged.
   */
  wait(held: Held, timed = true): Promise<void> {
    const waits: Promise<void>[] = []
    for (const session of held.sessions) if (session.congested) waits.push(session.whenRelieved())
    const remote = held.remote
    if (remote !== undefined && remote.pending > 0) {
      waits.push(
        new Promise((resolve) => {
          remote.resolve = resolve
        }),
      )
    }
    if (waits.length === 0) return Promise.resolve()
    const all = waits.length === 1 ? waits[0]! : Promise.all(waits).then(() => {})
    if (!timed) return all
    return Promise.race([all, this.#timeout()])
  }

  /**
   * A promise that resolves after about `waitMs`, shared by the publishes held
   * within the same 10 ms: a congested subscriber holds back thousands of
   * publishes a second, and one timer each (armed, then cleared) was a large
   * share of their cost. A publish may so be released up to 10 ms early.
   */
  #timeout(): Promise<void> {
    const now = performance.now()
    if (this.#sharedTimeout === undefined || now - this.#sharedTimeoutAt >= 10) {
      this.#sharedTimeoutAt = now
      this.#sharedTimeout = new Promise<void>((resolve) => setTimeout(resolve, this.#o.waitMs).unref())
    }
    return this.#sharedTimeout
  }
}

function settle(tracked: Tracked): void {
  if (--tracked.pending === 0) tracked.resolve?.()
}
