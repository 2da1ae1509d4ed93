/**
 * Reads live connections' running byte totals at scrape time, so the byte
 * counters grow while connections are open at no per-chunk cost: each sync
 * passes on only what moved since the previous one.
 */

/** Anything that keeps running byte totals, e.g. a Connection. */
export interface ByteSource {
  readonly bytesReceived: number
  readonly bytesSent: number
}

export class ByteTracker {
  // source → totals already passed on
  readonly #sources = new Map<ByteSource, { received: number; sent: number }>()
  readonly #add: (received: number, sent: number) => void

  /** `add` receives the bytes moved since the previous sync (or since tracking began). */
  constructor(add: (received: number, sent: number) => void) {
    this.#add = add
  }

  /** Counts `source` from zero. */
  track(source: ByteSource): void {
    this.#sources.set(source, { received: 0, sent: 0 })
  }

  /** Passes on what `source` moved since the last sync and forgets it; a no-op when not tracked. */
  untrack(source: ByteSource): void {
    const seen = this.#sources.get(source)
    if (seen === undefined) return
    this.#sources.delete(source)
    this.#add(source.bytesReceived - seen.received, source.bytesSent - seen.sent)
  }

  /** Passes on what every tracked source moved since the previous sync. */
  sync(): void {
    let received = 0
    let sent = 0
    // forEach, not for-of over entries: no [source, seen] array per connection per sync (the rate
    // sampler syncs every second, over every open connection)
    this.#sources.forEach((seen, source) => {
      const r = source.bytesReceived
      const s = source.bytesSent
      received += r - seen.received
      sent += s - seen.sent
      seen.received = r
      seen.sent = s
    })
    if (received !== 0 || sent !== 0) this.#add(received, sent)
  }
}
