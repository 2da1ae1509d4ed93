/**
 * Admission limits the main thread enforces before a socket is handed off:
 * open connections per listener and overall, and an optional per-address
 * rate of new connections. Pure bookkeeping, no I/O.
 */

export type Refusal = 'max_connections' | 'rate_limited'

export class AdmissionControl {
  #maxTotal: number
  readonly #maxPerListener: Map<string, number>
  #ratePerAddress: number
  readonly #open = new Map<string, number>()
  #total = 0
  // token bucket per address: `ratePerAddress` tokens, refilled at that rate per second
  readonly #buckets = new Map<string, { tokens: number; at: number }>()
  #lastPrune = 0

  constructor(options: { maxConnections: number; perListener: Map<string, number>; ratePerAddress: number }) {
    this.#maxTotal = options.maxConnections
    this.#maxPerListener = options.perListener
    this.#ratePerAddress = options.ratePerAddress
  }

  /** New limits (a reload): open connections stay; admission follows the new numbers from now on. */
  setLimits(limits: { maxConnections: number; ratePerAddress: number }): void {
    this.#maxTotal = limits.maxConnections
    this.#ratePerAddress = limits.ratePerAddress
  }

  /** Whether {@link admit} needs the remote address and the time (a per-address rate is set). */
  get ratesAddresses(): boolean {
    return this.#ratePerAddress > 0
  }

  /** Admits a new connection (and counts it open) or says why not. `now` in ms. */
  admit(listener: string, address: string | undefined, now: number): Refusal | null {
    const open = this.#open.get(listener) ?? 0
    if (this.#total >= this.#maxTotal || open >= (this.#maxPerListener.get(listener) ?? Infinity)) {
      return 'max_connections'
    }
    if (this.#ratePerAddress > 0 && address !== undefined && !this.#take(address, now)) return 'rate_limited'
    this.#open.set(listener, open + 1)
    this.#total++
    return null
  }

  /**
   * The per-address rate alone, for a client whose address is known only
   * after the hand-off (a PROXY protocol header read by a worker); the
   * connection was counted open by {@link admit} at accept.
   */
  admitAddress(address: string, now: number): 'rate_limited' | null {
    return this.#ratePerAddress > 0 && !this.#take(address, now) ? 'rate_limited' : null
  }

  #take(address: string, now: number): boolean {
    const rate = this.#ratePerAddress
    if (now - this.#lastPrune > 10_000) {
      // full buckets carry no information: forget them so the map stays small
      this.#lastPrune = now
      for (const [key, b] of this.#buckets)
        if (b.tokens + ((now - b.at) / 1000) * rate >= rate) this.#buckets.delete(key)
    }
    const bucket = this.#buckets.get(address) ?? { tokens: rate, at: now }
    bucket.tokens = Math.min(rate, bucket.tokens + ((now - bucket.at) / 1000) * rate)
    bucket.at = now
    this.#buckets.set(address, bucket)
    if (bucket.tokens < 1) return false
    bucket.tokens -= 1
    return true
  }

  /** `count` connections admitted on `listener` ended. */
  release(listener: string, count = 1): void {
    this.#open.set(listener, (this.#open.get(listener) ?? count) - count)
    this.#total -= count
  }

  get open(): number {
    return this.#total
  }
}
