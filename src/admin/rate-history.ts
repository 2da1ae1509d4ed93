/**
 * Per-second counters of the last 15 minutes, kept in the main thread, so the
 * status page shows history on first load without a Prometheus server.
 *
 * Once a second the main thread asks every worker for its running totals (a
 * few sums, see `WorkerMetrics.totals`) and stores what changed since the
 * previous sample in a ring buffer. Deltas are taken per worker thread: a
 * worker that dies takes its totals with it, which would read as a counter
 * going backwards if the sums were compared instead; a replacement worker
 * starts from zero. Sampling runs only while the admin API does (it is
 * started by `startAdmin`).
 */
import type { ControlClient } from '../control/control-channel.ts'
import type { WorkerTotals } from '../control/protocol.ts'
import type { MainMetrics } from '../metrics/main-metrics.ts'

/** What moved in one interval: the workers' running totals as deltas, `connections` as a level at `t`. */
export interface RateSample extends WorkerTotals {
  /** End of the interval, epoch ms. */
  t: number
  /** Length of the interval, ms (about 1000; longer when the main thread was busy). */
  ms: number
}

export interface RateHistoryOptions {
  control: ControlClient
  metrics: MainMetrics
  workerThreadIds: () => readonly number[]
  /** Default 1000. */
  intervalMs?: number
  /** Samples kept; default 900 (15 minutes of seconds). */
  capacity?: number
  /** The longest a sample waits for workers; default 800 ms. */
  timeoutMs?: number
}

type Totals = Omit<WorkerTotals, 'connections'>

const zero = (): Totals => ({
  messagesIn: 0,
  messagesOut: 0,
  bytesIn: 0,
  bytesOut: 0,
  dropped: {},
  rejected: {},
})

function addDelta(into: Record<string, number>, now: Record<string, number>, before: Record<string, number>) {
  for (const [key, value] of Object.entries(now)) {
    const d = value - (before[key] ?? 0)
    if (d > 0) into[key] = (into[key] ?? 0) + d
  }
}

const positive = (d: number) => Math.max(d, 0)

export class RateHistory {
  readonly intervalMs: number
  readonly capacity: number
  readonly #options: RateHistoryOptions
  readonly #timeoutMs: number
  readonly #ring: (RateSample | undefined)[]
  #next = 0
  #size = 0
  /** Last totals seen per worker threadId (kept while the worker is live). */
  readonly #last = new Map<number, WorkerTotals>()
  #lastMain: Record<string, number> = {}
  #lastAt = 0
  #timer: NodeJS.Timeout | undefined
  #busy = false

  constructor(options: RateHistoryOptions) {
    this.#options = options
    this.intervalMs = options.intervalMs ?? 1000
    this.capacity = options.capacity ?? 900
    this.#timeoutMs = options.timeoutMs ?? Math.min(800, this.intervalMs)
    this.#ring = new Array(this.capacity)
  }

  /** Takes the baseline now and a sample every interval until {@link stop}. */
  async start(): Promise<void> {
    if (this.#timer !== undefined) return
    this.#timer = setInterval(() => this.sample().catch(() => {}), this.intervalMs)
    this.#timer.unref()
    await this.sample()
  }

  stop(): void {
    clearInterval(this.#timer)
    this.#timer = undefined
  }

  /**
   * Asks the workers for their totals and records what moved since the
   * previous call (the first call only sets the baseline). Skipped while the
   * previous one still waits for a stuck worker.
   */
  async sample(): Promise<void> {
    if (this.#busy) return
    this.#busy = true
    try {
      const { control, metrics, workerThreadIds } = this.#options
      const live = workerThreadIds()
      const result = await control.request('metrics:totals', null, {
        expectedWorkers: live.length,
        timeoutMs: this.#timeoutMs,
      })
      const now = Date.now()
      const mainRejected = metrics.rejectedTotals()
      const first = this.#lastAt === 0
      const delta = zero()
      let connections = 0
      for (const [threadId, totals] of result.replies) {
        // a worker first seen after the baseline is a new one: it counted from zero
        const before = this.#last.get(threadId) ?? (first ? totals : { ...zero(), connections: 0 })
        delta.messagesIn += positive(totals.messagesIn - before.messagesIn)
        delta.messagesOut += positive(totals.messagesOut - before.messagesOut)
        delta.bytesIn += positive(totals.bytesIn - before.bytesIn)
        delta.bytesOut += positive(totals.bytesOut - before.bytesOut)
        addDelta(delta.dropped, totals.dropped, before.dropped)
        addDelta(delta.rejected, totals.rejected, before.rejected)
        this.#last.set(threadId, totals)
      }
      const ids = new Set(live)
      for (const threadId of [...this.#last.keys()]) if (!ids.has(threadId)) this.#last.delete(threadId)
      // a worker that missed this sample still has connections: count its last known level
      for (const totals of this.#last.values()) connections += totals.connections
      addDelta(delta.rejected, mainRejected, first ? mainRejected : this.#lastMain)
      this.#lastMain = mainRejected
      const ms = first ? 0 : now - this.#lastAt
      this.#lastAt = now
      if (first) return
      this.#ring[this.#next] = { t: now, ms, connections, ...delta }
      this.#next = (this.#next + 1) % this.capacity
      this.#size = Math.min(this.#size + 1, this.capacity)
    } finally {
      this.#busy = false
    }
  }

  /** Samples oldest first, only those ending after `since` (epoch ms) when given. */
  samples(since?: number): RateSample[] {
    const out: RateSample[] = []
    const start = (this.#next - this.#size + this.capacity) % this.capacity
    for (let i = 0; i < this.#size; i++) {
      const s = this.#ring[(start + i) % this.capacity]!
      if (since === undefined || s.t > since) out.push(s)
    }
    return out
  }
}
