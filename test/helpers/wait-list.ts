/**
 * A list that grows as things arrive (handler events, received messages), and
 * waits for `count` of its items to match: at once when they already did, else
 * as soon as a push makes them, or rejects after `timeoutMs` with `describe()`.
 */
export class WaitList<T> {
  readonly items: T[] = []
  readonly #waiters = new Set<() => void>()

  push(item: T): void {
    this.items.push(item)
    for (const w of [...this.#waiters]) w()
  }

  waitForCount(
    match: (item: T) => boolean,
    count: number,
    timeoutMs: number,
    describe: () => string,
  ): Promise<T[]> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const found = this.items.filter(match)
        if (found.length < count) return
        this.#waiters.delete(check)
        clearTimeout(timer)
        resolve(found)
      }
      const timer = setTimeout(() => {
        this.#waiters.delete(check)
        reject(new Error(describe()))
      }, timeoutMs)
      this.#waiters.add(check)
      check()
    })
  }
}
