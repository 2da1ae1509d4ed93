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
}

export class OrderedAcks {
  #entries: Entry[] = []
  #head = 0
  #sending = false
  #idle: (() => void)[] = []
  readonly #onError: (err: unknown) => void

  /** @param onError a wait that rejected (a hook that failed or timed out) */
  constructor(onError: (err: unknown) => void) {
    this.#onError = onError
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
    this.#entries.push({ ready: true, send, value: undefined })
  }

  /** Queues an acknowledgement sent with `wait`'s value once it and those before it are done. */
  defer<T>(wait: Promise<T>, send: (value: T) => void): void {
    const entry: Entry = { ready: false, send: send as (value: unknown) => void, value: undefined }
    this.#entries.push(entry)
    wait.then(
      (value) => {
        entry.ready = true
        entry.value = value
        this.#release()
      },
      (err: unknown) => {
        entry.ready = true
        entry.send = undefined
        this.#release()
        this.#onError(err)
      },
    )
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
