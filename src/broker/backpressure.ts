/**
 * Publisher backpressure: a QoS 1/2 publish that reaches a congested session
 * (online, its queue at the high-water mark, still acknowledging) is
 * acknowledged only once that session is relieved (queue at the low-water
 * mark, offline, stalled or ended), or after `waitMs`. The framework lets a
 * publisher have at most Receive Maximum unacknowledged publishes and runs a
 * connection's packets one at a time, so a held-back acknowledgement slows
 * that publisher down to what the subscriber takes, instead of the broker
 * accepting faster than it delivers and dropping at `maxQueuedMessages`.
 *
 * Across workers, each worker tells the others (control channel, only when
 * the set changes) which filters its congested sessions subscribe to; a
 * publish routed to a worker with a congested filter matching its topic waits
 * for that worker's next announcement. See docs/broker-design.md for the
 * trade-offs.
 */
import type { ClusterMessage } from './cluster.ts'
import type { Session } from './session.ts'
import { matchesFilter, parseFilter } from './topic.ts'

/** What one publish has to wait for: congested sessions here, and workers with congested matching filters. */
export interface Held {
  sessions: Session[]
  workers: number[]
}

export interface BackpressureOptions {
  self: number
  /** Posts control to every worker. */
  post: (message: ClusterMessage) => void
  /** Longest a publish waits. */
  waitMs: number
}

export class Backpressure {
  readonly #o: BackpressureOptions
  /** This worker's congested sessions. */
  readonly #congested = new Set<Session>()
  #announcePending = false
  /** Other workers → the filters of their congested sessions. */
  readonly #remote = new Map<number, string[]>()
  readonly #waiters = new Map<number, Set<() => void>>()

  constructor(options: BackpressureOptions) {
    this.#o = options
  }

  /** A session here became congested or was relieved: tell the others (once per microtask). */
  onCongestion(session: Session, congested: boolean): void {
    if (congested) this.#congested.add(session)
    else if (!this.#congested.delete(session)) return
    if (this.#announcePending) return
    this.#announcePending = true
    queueMicrotask(() => {
      this.#announcePending = false
      this.#o.post({ t: 'pressure', from: this.#o.self, filters: this.#filters() })
    })
  }

  #filters(): string[] {
    const filters = new Set<string>()
    for (const session of this.#congested) {
      for (const raw of session.subscriptions.keys()) {
        const parsed = parseFilter(raw)
        if (parsed !== undefined) filters.add(parsed.filter)
      }
    }
    return [...filters]
  }

  /** A peer's congested filters (empty: relieved); whoever waited on it goes on. */
  onPressure(from: number, filters: string[]): void {
    if (filters.length === 0) this.#remote.delete(from)
    else this.#remote.set(from, filters)
    this.#release(from)
  }

  /** A peer left. */
  forget(worker: number): void {
    this.#remote.delete(worker)
    this.#release(worker)
  }

  #release(worker: number): void {
    const waiters = this.#waiters.get(worker)
    if (waiters === undefined) return
    this.#waiters.delete(worker)
    for (const resolve of waiters) resolve()
  }

  /** Adds to `held.workers` the workers of `to` with a congested filter matching `topic`. */
  collect(topic: string, to: readonly number[], held: Held): void {
    if (this.#remote.size === 0) return
    for (const worker of to) {
      const filters = this.#remote.get(worker)
      if (filters?.some((f) => matchesFilter(f, topic)) === true) held.workers.push(worker)
    }
  }

  /** Resolves once everything in `held` is relieved, or after `waitMs`. */
  wait(held: Held): Promise<void> {
    const waits: Promise<void>[] = []
    for (const session of held.sessions) if (session.congested) waits.push(session.whenRelieved())
    const added: [number, () => void][] = []
    for (const worker of held.workers) {
      if (!this.#remote.has(worker)) continue
      waits.push(
        new Promise((resolve) => {
          let set = this.#waiters.get(worker)
          if (set === undefined) {
            set = new Set()
            this.#waiters.set(worker, set)
          }
          set.add(resolve)
          added.push([worker, resolve])
        }),
      )
    }
    if (waits.length === 0) return Promise.resolve()
    let timer: NodeJS.Timeout | undefined
    const timeout = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, this.#o.waitMs)
      timer.unref()
    })
    return Promise.race([Promise.all(waits), timeout]).then(() => {
      clearTimeout(timer)
      for (const [worker, resolve] of added) this.#waiters.get(worker)?.delete(resolve)
    })
  }
}
