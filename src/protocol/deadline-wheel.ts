/**
 * The connect and keepalive deadlines of every connection in a thread on one
 * timer: a hashed wheel of slots `tickMs` wide. A connection waits in the set
 * of the slot its deadline falls in (a set entry, where a `Timeout` is an
 * object with its async id, its list links and a boxed start time, held for
 * the connection's life); the wheel's one interval runs while any waits, and
 * each tick hands the connections of the slots that passed to
 * `deadlineReached()`. A deadline fires up to one tick late, never early
 * (keepalive: the client has 1.5 × its keepalive at least [3.1.1 MQTT-3.1.2-24]
 * [5.0 MQTT-3.1.2-22]).
 */

/** What waits on the wheel: told once its deadline passed. */
export interface DeadlineOwner {
  deadlineReached(): void
}

export class DeadlineWheel {
  readonly #tickMs: number
  /** Waiting owners by slot: slot n holds deadlines in ((n - 1) × tick, n × tick] of `performance.now()`. */
  readonly #slots = new Map<number, Set<DeadlineOwner>>()
  #waiting = 0
  /** The last slot handed out by a tick. */
  #done: number
  #interval: NodeJS.Timeout | undefined

  constructor(tickMs: number) {
    this.#tickMs = tickMs
    this.#done = Math.floor(performance.now() / tickMs)
  }

  /** How many owners wait. */
  get size(): number {
    return this.#waiting
  }

  /** Waits `owner` for `delayMs`; returns its slot, for {@link cancel}. */
  add(owner: DeadlineOwner, delayMs: number): number {
    const now = performance.now()
    // an idle wheel skips the slots it slept through (none holds anything)
    if (this.#waiting === 0) this.#done = Math.max(this.#done, Math.floor(now / this.#tickMs))
    // never a slot a tick already handed out: it would wait for the wheel to come round again
    const slot = Math.max(Math.ceil((now + delayMs) / this.#tickMs), this.#done + 1)
    let set = this.#slots.get(slot)
    if (set === undefined) {
      set = new Set()
      this.#slots.set(slot, set)
    }
    set.add(owner)
    this.#waiting++
    // (an owner may wait again from its deadlineReached(), in a tick that stops the interval after it)
    if (this.#interval === undefined) this.#start()
    return slot
  }

  /** Stops `owner` waiting in `slot` (what {@link add} returned); nothing when it does not wait there. */
  cancel(owner: DeadlineOwner, slot: number): void {
    const set = this.#slots.get(slot)
    if (set === undefined || !set.delete(owner)) return
    if (set.size === 0) this.#slots.delete(slot)
    if (--this.#waiting === 0) this.#stop()
  }

  #start(): void {
    // unref'd: waiting connections keep the thread alive through their sockets, not through this
    this.#interval = setInterval(DeadlineWheel.#tick, this.#tickMs, this)
    this.#interval.unref()
  }

  #stop(): void {
    clearInterval(this.#interval)
    this.#interval = undefined
  }

  static #tick(wheel: DeadlineWheel): void {
    wheel.#advance(Math.floor(performance.now() / wheel.#tickMs))
  }

  /** Hands out every slot up to `now` (several when the thread was busy past a tick). */
  #advance(now: number): void {
    while (this.#done < now) {
      const slot = ++this.#done
      const set = this.#slots.get(slot)
      if (set === undefined) continue
      this.#slots.delete(slot)
      this.#waiting -= set.size
      for (const owner of set) {
        try {
          owner.deadlineReached()
        } catch (err) {
          // one owner's failure must not strand the others of its slot: reported as any uncaught error
          queueMicrotask(() => {
            throw err
          })
        }
      }
    }
    if (this.#waiting === 0) this.#stop()
  }
}
