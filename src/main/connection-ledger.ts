/**
 * The main thread's count of handed-off connections, by worker and listener.
 *
 * A connection counts for a worker from the moment its socket is posted to
 * that worker until the worker reports it ended (handoff-channel.ts) or the
 * worker's thread ends. A worker that dies reports nothing more: what it
 * still held is released when its port closes, and a report of it that
 * arrives after that is ignored (it was part of what was released). So each
 * connection is released exactly once, whatever order the two arrive in.
 *
 * The counts also balance: a socket goes to the worker holding the fewest
 * connections.
 */
import type { EndedConnections } from '../control/handoff-channel.ts'

interface ThreadCount {
  total: number
  byListener: Map<string, number>
}

export class ConnectionLedger {
  readonly #threads = new Map<number, ThreadCount>()
  /** Threads that ended: their reports arriving late are part of what their end released. */
  readonly #gone = new Set<number>()
  readonly #release: (listener: string, count: number) => void
  #open = 0

  /** @param release gives `count` admissions of `listener` back (those connections ended) */
  constructor(release: (listener: string, count: number) => void) {
    this.#release = release
  }

  /** Connections on workers (posted, not ended). */
  get open(): number {
    return this.#open
  }

  /** Connections `threadId` holds. */
  openOn(threadId: number): number {
    return this.#threads.get(threadId)?.total ?? 0
  }

  /**
   * Of `candidates`, the worker with the fewest connections, counting `extra`
   * planned on top of the ledger's; undefined when there is no candidate.
   */
  leastLoaded(candidates: Iterable<number>, extra?: ReadonlyMap<number, number>): number | undefined {
    let best: number | undefined
    let bestLoad = Infinity
    for (const id of candidates) {
      const load = this.openOn(id) + (extra?.get(id) ?? 0)
      if (load < bestLoad) {
        best = id
        bestLoad = load
      }
    }
    return best
  }

  /** Sockets of these listeners were posted to `threadId`. */
  posted(threadId: number, listeners: readonly string[]): void {
    if (this.#gone.has(threadId)) {
      // a port that closed in this turn: the worker will never report them
      for (const listener of listeners) this.#release(listener, 1)
      return
    }
    let count = this.#threads.get(threadId)
    if (count === undefined) {
      count = { total: 0, byListener: new Map() }
      this.#threads.set(threadId, count)
    }
    for (const listener of listeners) {
      count.byListener.set(listener, (count.byListener.get(listener) ?? 0) + 1)
    }
    count.total += listeners.length
    this.#open += listeners.length
  }

  /** A worker's report of its connections that ended. */
  ended(threadId: number, ended: EndedConnections): void {
    if (this.#gone.has(threadId)) return
    const count = this.#threads.get(threadId)
    if (count === undefined) return
    for (const [listener, n] of Object.entries(ended)) {
      const held = count.byListener.get(listener) ?? 0
      // a worker reports only what it was given; this keeps the counts whole if it did not
      const released = Math.min(n, held)
      if (released === 0) continue
      count.byListener.set(listener, held - released)
      count.total -= released
      this.#open -= released
      this.#release(listener, released)
    }
  }

  /** The worker's thread ended: everything it held ended with it. */
  gone(threadId: number): void {
    if (this.#gone.has(threadId)) return
    this.#gone.add(threadId)
    const count = this.#threads.get(threadId)
    this.#threads.delete(threadId)
    if (count === undefined) return
    for (const [listener, n] of count.byListener) if (n > 0) this.#release(listener, n)
    this.#open -= count.total
  }
}
