/**
 * A log-linear latency histogram in microseconds: 64 linear sub-buckets per
 * power of two (under 1.6 % error), fixed memory, mergeable across threads by
 * adding the count arrays. Sorting millions of samples would cost the
 * generator more CPU than the load it makes.
 */

const SUB_BITS = 6
const SUB = 1 << SUB_BITS
/** Covers 0 .. 2^36 µs (about 19 hours). */
const MAGNITUDES = 36
const SIZE = (MAGNITUDES + 1) * SUB

/** Summary of a histogram, in milliseconds. */
export interface LatencySummary {
  count: number
  meanMs: number
  p50Ms: number
  p90Ms: number
  p99Ms: number
  p999Ms: number
  maxMs: number
}

function indexOf(us: number): number {
  if (us < SUB) return us
  const mag = Math.floor(Math.log2(us)) - SUB_BITS + 1
  const sub = Math.floor(us / 2 ** mag)
  return Math.min(SIZE - 1, mag * SUB + sub)
}

/** Upper edge of a bucket, so percentiles never understate latency. */
function bucketValue(index: number): number {
  if (index < SUB) return index
  const mag = Math.floor(index / SUB)
  const sub = index % SUB
  return (sub + 1) * 2 ** mag - 1
}

export class Histogram {
  readonly counts: Float64Array
  count = 0
  sum = 0
  max = 0

  constructor(counts?: ArrayLike<number>) {
    this.counts = new Float64Array(SIZE)
    if (counts) {
      this.counts.set(counts)
      for (let i = 0; i < SIZE; i++) this.count += this.counts[i]!
    }
  }

  /** Records one value in microseconds (negative values clamp to 0). */
  record(us: number): void {
    const v = us > 0 ? Math.round(us) : 0
    this.counts[indexOf(v)]!++
    this.count++
    this.sum += v
    if (v > this.max) this.max = v
  }

  /** Adds another histogram's counts into this one. */
  merge(other: Histogram | SerializedHistogram): void {
    const counts = other.counts
    for (let i = 0; i < SIZE; i++) this.counts[i]! += counts[i]!
    this.count += other.count
    this.sum += other.sum
    if (other.max > this.max) this.max = other.max
  }

  /** Value (µs) at percentile `p` (0–100). */
  percentile(p: number): number {
    if (this.count === 0) return 0
    const rank = Math.max(1, Math.ceil((p / 100) * this.count))
    let seen = 0
    for (let i = 0; i < SIZE; i++) {
      seen += this.counts[i]!
      if (seen >= rank) return Math.min(bucketValue(i), this.max)
    }
    return this.max
  }

  summary(): LatencySummary {
    const ms = (us: number) => Math.round(us) / 1000
    return {
      count: this.count,
      meanMs: this.count === 0 ? 0 : ms(this.sum / this.count),
      p50Ms: ms(this.percentile(50)),
      p90Ms: ms(this.percentile(90)),
      p99Ms: ms(this.percentile(99)),
      p999Ms: ms(this.percentile(99.9)),
      maxMs: ms(this.max),
    }
  }

  /** Plain data for postMessage. */
  serialize(): SerializedHistogram {
    return { counts: Array.from(this.counts), count: this.count, sum: this.sum, max: this.max }
  }

  static from(s: SerializedHistogram): Histogram {
    const h = new Histogram()
    h.merge(s)
    return h
  }
}

export interface SerializedHistogram {
  counts: ArrayLike<number>
  count: number
  sum: number
  max: number
}
