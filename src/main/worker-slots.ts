/**
 * Stable worker numbers: the server runs `workers` slots, 0..N-1, and every
 * worker thread occupies one. A worker that dies frees its slot and its
 * replacement takes it over, so the `worker` label of the per-worker metrics
 * and the `id` of `GET /workers` stay the same across restarts (a thread id
 * is never reused, so labelling by thread id made a new series per restart).
 *
 * piscina has no slots of its own: a dead worker leaves the pool's list and
 * its replacement is appended. So the slots follow the list, read at each
 * query: a worker no longer listed frees its slot, a worker not seen before
 * takes the lowest free one, and a slot taken over counts one restart.
 * Workers are told apart by their `Worker` object, not by `threadId`: a
 * thread that ended with `process.exit` already reports `threadId` -1.
 */

/** What the slots need of a pool thread (node:worker_threads `Worker`). */
export interface PoolThread {
  readonly threadId: number
}

interface Slot {
  thread: PoolThread | undefined
  threadId: number
  restarts: number
  /** The slot had a worker before: the next one to take it is a replacement. */
  used: boolean
}

/** One live worker: its slot and how many times that slot was refilled after a death. */
export interface WorkerSlot {
  index: number
  threadId: number
  restarts: number
}

export class WorkerSlots {
  readonly #threads: () => readonly PoolThread[]
  readonly #slots: Slot[] = []

  /** @param threads the pool's live workers (`() => pool.threads`) */
  constructor(count: number, threads: () => readonly PoolThread[]) {
    this.#threads = threads
    for (let i = 0; i < count; i++)
      this.#slots.push({ thread: undefined, threadId: -1, restarts: 0, used: false })
  }

  /** The live workers by slot, lowest first. */
  list(): WorkerSlot[] {
    this.#sync()
    const out: WorkerSlot[] = []
    this.#slots.forEach((slot, index) => {
      if (slot.thread !== undefined) out.push({ index, threadId: slot.threadId, restarts: slot.restarts })
    })
    return out
  }

  /** The slot of worker `threadId`, or undefined when it is not live. */
  indexOf(threadId: number): number | undefined {
    this.#sync()
    const index = this.#slots.findIndex((s) => s.thread !== undefined && s.threadId === threadId)
    return index === -1 ? undefined : index
  }

  /** Restarts of the slot worker `threadId` runs in (0 when it is not live). */
  restartsOf(threadId: number): number {
    const index = this.indexOf(threadId)
    return index === undefined ? 0 : this.#slots[index]!.restarts
  }

  #sync(): void {
    const live = this.#threads()
    const current = new Set(live)
    for (const slot of this.#slots) {
      if (slot.thread !== undefined && !current.has(slot.thread)) slot.thread = undefined
    }
    const placed = new Set(this.#slots.map((s) => s.thread))
    for (const thread of live) {
      if (placed.has(thread) || thread.threadId < 0) continue
      const slot = this.#slots.find((s) => s.thread === undefined)
      // more threads than slots cannot happen with minThreads = maxThreads; such a thread goes unnumbered
      if (slot === undefined) break
      if (slot.used) slot.restarts++
      slot.thread = thread
      slot.threadId = thread.threadId
      slot.used = true
    }
  }
}
