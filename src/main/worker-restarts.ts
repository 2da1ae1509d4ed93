/**
 * How many times each worker slot was replaced after a crash, for
 * `GET /workers`. piscina has no stable slot ids: a dead worker leaves the
 * pool's list and its replacement is appended (with a new threadId) once it
 * is created. So a death queues the dead worker's count + 1, and the next
 * threadId seen in the list that is not known yet takes it over.
 */
export class WorkerRestarts {
  readonly #threadIds: () => readonly number[]
  readonly #counts = new Map<number, number>()
  readonly #inherited: number[] = []

  /** @param threadIds the pool's live workers (`() => pool.threads.map((w) => w.threadId)`) */
  constructor(threadIds: () => readonly number[]) {
    this.#threadIds = threadIds
  }

  /** Worker `threadId` died and the pool replaces it: its replacement inherits its count + 1. */
  died(threadId: number): void {
    this.#inherited.push((this.#counts.get(threadId) ?? 0) + 1)
    this.#counts.delete(threadId)
  }

  /** Restarts of the slot worker `threadId` runs in. */
  of(threadId: number): number {
    this.#adopt()
    return this.#counts.get(threadId) ?? 0
  }

  #adopt(): void {
    for (const id of this.#threadIds()) {
      if (!this.#counts.has(id)) this.#counts.set(id, this.#inherited.shift() ?? 0)
    }
  }
}
