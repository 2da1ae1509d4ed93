/**
 * A connection's acknowledgements in the order their packets came, while some
 * of them wait (ack-wait.ts): a PUBACK whose message is not committed yet holds
 * back every acknowledgement written after it [3.1.1 MQTT-4.6.0-2] [5.0 MQTT-4.6.0-2].
 * Empty, it costs nothing: an acknowledgement is written at once.
 */
interface Entry {
  ready: boolean
  send: ((value: unknown) => void) | undefined
  value: unknown
  /** Who the wait belongs to (a handler's name), for the timeout error. */
  label: string
}

/** Acknowledgements deferred one after another on the same wait. */
interface Run {
  wait: Promise<unknown>
  entries: Entry[]
}

export class OrderedAcks {
  #entries: Entry[] = []
  /** The latest run of acknowledgements on one wait, which the next one on that wait joins. */
  #run: Run | undefined
  #head = 0
  #sending = false
  #idle: (() => void)[] = []
  readonly #onError: (err: unknown) => void
  readonly #timeoutMs: number
  readonly #onTimeout: (label: string) => void
  /** One timer per connection, not per acknowledgement: it watches the oldest wait. */
  #timer: NodeJS.Timeout | undefined
  #watched: Entry | undefined

  /**
   * @param onError a wait that rejected (a hook that failed)
   * @param timeoutMs how long a wait may take: the oldest one still waiting after one to two times
   *   this calls `onTimeout` with its label (once)
   */
  constructor(onError: (err: unknown) => void, timeoutMs = 0, onTimeout: (label: string) => void = () => {}) {
    this.#onError = onError
    this.#timeoutMs = timeoutMs
    this.#onTimeout = onTimeout
  }

  /** Acknowledgements waiting, or queued behind one that waits. */
  get size(): number {
    return this.#entries.length - this.#head
  }

  /** Whether `send` must queue: something before it still waits. */
  get holding(): boolean {
    return this.size > 0 && !this.#sending
  }

  /** Queues an acknowledgement that is ready, behind those that wait. */
  push(send: () => void): void {
    this.#entries.push({ ready: true, send, value: undefined, label: '' })
  }

  /** Queues an acknowledgement sent with `wait`'s value once it and those before it are done. */
  defer<T>(wait: Promise<T>, send: (value: T) => void, label = ''): void {
    const entry: Entry = { ready: false, send: send as (value: unknown) => void, value: undefined, label }
    this.#entries.push(entry)
    if (this.#timer === undefined && this.#timeoutMs > 0) this.#watch()
    // Consecutive acknowledgements waiting on the same promise (a client's publishes of one group
    // commit) settle together: one reaction for the run, not one per packet
    const run = this.#run
    if (run !== undefined && run.wait === wait) {
      run.entries.push(entry)
      return
    }
    const started: Run = { wait, entries: [entry] }
    this.#run = started
    wait.then(
      (value) => {
        if (this.#run === started) this.#run = undefined
        for (const e of started.entries) {
          e.ready = true
          e.value = value
        }
        this.#release()
      },
      (err: unknown) => {
        if (this.#run === started) this.#run = undefined
        for (const e of started.entries) {
          e.ready = true
          e.send = undefined
        }
        this.#release()
        this.#onError(err)
      },
    )
  }

  /** Stops the timer (the connection closed). */
  close(): void {
    clearTimeout(this.#timer)
    this.#timer = undefined
  }

  /** Watches the oldest entry still waiting; when the timer fires and it still waits, that is a timeout. */
  #watch(): void {
    const entries = this.#entries
    let head = this.#head
    while (head < entries.length && entries[head]!.ready) head++
    this.#watched = entries[head]
    // nothing waits: no timer until the next wait
    if (this.#watched === undefined) return
    this.#timer = setTimeout(() => {
      this.#timer = undefined
      const watched = this.#watched
      if (watched !== undefined && !watched.ready) {
        this.#onTimeout(watched.label)
        return
      }
      this.#watch()
    }, this.#timeoutMs)
  }

  /** Resolves when no acknowledgement waits. */
  idle(): Promise<void> {
    if (this.size === 0) return Promise.resolve()
    return new Promise((resolve) => this.#idle.push(resolve))
  }

  #release(): void {
    const entries = this.#entries
    this.#sending = true
    try {
      while (this.#head < entries.length && entries[this.#head]!.ready) {
        const entry = entries[this.#head]!
        entries[this.#head++] = undefined as unknown as Entry
        entry.send?.(entry.value)
      }
    } finally {
      this.#sending = false
    }
    if (this.#head === entries.length) {
      // the timer runs on (arming and clearing one per group commit costs more): it finds nothing
      this.#watched = undefined
      this.#entries = []
      this.#head = 0
      const idle = this.#idle
      this.#idle = []
      for (const resolve of idle) resolve()
    } else if (this.#head > 1024) {
      this.#entries = entries.slice(this.#head)
      this.#head = 0
    }
  }
}
