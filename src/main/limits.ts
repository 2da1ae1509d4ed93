/**
 * Admission limits the main thread enforces before a socket is handed off:
 * open connections per listener and overall, and an optional per-address
 * rate of new connections. Pure bookkeeping, no I/O.
 */

export type Refusal = 'max_connections' | 'rate_limited'

export class AdmissionControl {
  readonly #maxTotal: number
  readonly #maxPerListener: Map<string, number>
  readonly #ratePerAddress: number
  readonly #open = new Map<string, number>()
  #total = 0
  // per-address counters of the current one-second window
  #window = 0
  #windowCounts = new Map<string, number>()

  constructor(options: { maxConnections: number; perListener: Map<string, number>; ratePerAddress: number }) {
    this.#maxTotal = options.maxConnections
    this.#maxPerListener = options.perListener
    this.#ratePerAddress = options.ratePerAddress
  }

  /** Admits a new connection (and counts it open) or says why not. `now` in ms. */
  admit(listener: string, address: string | undefined, now: number): Refusal | null {
    const open = this.#open.get(listener) ?? 0
    if (this.#total >= this.#maxTotal || open >= (this.#maxPerListener.get(listener) ?? Infinity)) {
      return 'max_connections'
    }
    if (this.#ratePerAddress > 0 && address !== undefined) {
      const window = Math.floor(now / 1000)
      if (window !== this.#window) {
        this.#window = window
        this.#windowCounts = new Map()
      }
      const count = (this.#windowCounts.get(address) ?? 0) + 1
      this.#windowCounts.set(address, count)
      if (count > this.#ratePerAddress) return 'rate_limited'
    }
    this.#open.set(listener, open + 1)
    this.#total++
    return null
  }

  /** A connection admitted on `listener` ended. */
  release(listener: string): void {
    this.#open.set(listener, (this.#open.get(listener) ?? 1) - 1)
    this.#total--
  }

  get open(): number {
    return this.#total
  }
}
