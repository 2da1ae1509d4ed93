/**
 * This worker's side of the replicated routing table: it announces its
 * subscription counts per raw filter as `subs` deltas (batched per
 * microtask, numbered by a per-worker sequence), and tracks which peers
 * applied which sequence, so a SUBACK or a retained PUBACK can wait until
 * every worker routes accordingly.
 */
import type { ClusterMessage } from './cluster.ts'

type SubsMessage = Extract<ClusterMessage, { t: 'subs' }>

export class Announcer {
  readonly #self: number
  readonly #post: (message: SubsMessage) => void
  #seq = 0
  /** Counts announced so far (the local index plus sessions being handed over). */
  readonly #advertised = new Map<string, number>()
  readonly #pending = new Map<string, number>()
  #restored: [string, number][] = []
  #flushQueued = false
  /** Workers heard from, and the highest sequence of ours each acknowledged. */
  readonly #peers = new Map<number, number>()
  #confirmations: { seq: number; done: () => void }[] = []

  constructor(self: number, post: (message: SubsMessage) => void) {
    this.#self = self
    this.#post = post
  }

  /** Adds `delta` subscriptions of raw filter `raw` to the next announcement. */
  announce(raw: string, delta: number): void {
    this.#pending.set(raw, (this.#pending.get(raw) ?? 0) + delta)
    const n = (this.#advertised.get(raw) ?? 0) + delta
    if (n > 0) this.#advertised.set(raw, n)
    else this.#advertised.delete(raw)
    if (!this.#flushQueued) {
      this.#flushQueued = true
      queueMicrotask(() => {
        this.#flushQueued = false
        this.flush()
      })
    }
  }

  /** Marks the next announcement as the one carrying `clientId`'s session moved in from `from`. */
  restored(clientId: string, from: number): void {
    this.#restored.push([clientId, from])
  }

  /** Posts pending changes now (`force`: even none, as a barrier); returns the current sequence. */
  flush(force = false): number {
    if (force || this.#pending.size > 0 || this.#restored.length > 0) {
      const deltas = [...this.#pending].filter(([, d]) => d !== 0)
      this.#pending.clear()
      const restored = this.#restored
      this.#restored = []
      this.#post({ t: 'subs', from: this.#self, seq: ++this.#seq, deltas, restored })
    }
    return this.#seq
  }

  /** Everything announced, for a new worker's `sync`. */
  snapshot(): { seq: number; filters: [string, number][] } {
    return { seq: this.flush(), filters: [...this.#advertised] }
  }

  /** Any message from `from` makes it a peer to wait for; `bye` removes it. */
  heard(from: number, bye: boolean): void {
    if (bye) this.#peers.delete(from)
    else if (!this.#peers.has(from)) this.#peers.set(from, 0)
  }

  /**
   * Resolves once every peer applied this worker's announcements so far
   * (`barrier`: and every post before this call, by causal order). Peers
   * silent for `timeoutMs` are presumed gone and no longer awaited.
   */
  confirm(timeoutMs: number, barrier = false): Promise<void> {
    const seq = this.flush(barrier)
    if (this.#confirmed(seq)) return Promise.resolve()
    return new Promise((resolve) => {
      const entry = {
        seq,
        done: () => {
          clearTimeout(timer)
          resolve()
        },
      }
      const timer = setTimeout(() => {
        for (const [peer, acked] of this.#peers) if (acked < seq) this.#peers.delete(peer)
        this.#confirmations = this.#confirmations.filter((c) => c !== entry)
        resolve()
      }, timeoutMs)
      this.#confirmations.push(entry)
    })
  }

  #confirmed(seq: number): boolean {
    for (const acked of this.#peers.values()) if (acked < seq) return false
    return true
  }

  /** `from` applied our announcements up to `seq`. */
  acknowledged(from: number, seq: number): void {
    if (seq > (this.#peers.get(from) ?? 0)) this.#peers.set(from, seq)
    const waiting = this.#confirmations
    this.#confirmations = []
    for (const c of waiting) {
      if (this.#confirmed(c.seq)) c.done()
      else this.#confirmations.push(c)
    }
  }
}
