/**
 * Where a worker stands in the QoS stream, as the worker itself received it.
 *
 * A worker's consumer takes the whole stream, and the stream keeps a message
 * until every consumer acknowledged it (interest retention), so its messages
 * come to the worker one after the other: a sequence skipped is one the
 * worker never saw. That happens when nats-server lost messages in a restart
 * (docs/cluster.md): the consumer, pulled again, steps over the missing
 * sequences and reports them delivered. The check for what a restart lost
 * asks the workers for this position instead of the consumers' (stream-recovery.ts). It also
 * happens when the server sent messages into a connection that died: still in the stream, they
 * come again once the worker asks for them (stream-recovery.ts).
 */
export class StreamPosition {
  #seq: number
  #gap: { before: number; until: number } | undefined
  readonly #memoryMs: number

  /**
   * @param start the consumer's position when it was made (nothing before it is for this worker)
   * @param memoryMs how long a skip is remembered: longer than any check after a reconnect lasts
   */
  constructor(start: number, memoryMs: number) {
    this.#seq = start
    this.#memoryMs = memoryMs
  }

  /** The last sequence the consumer handed to the worker. */
  get seq(): number {
    return this.#seq
  }

  /**
   * A message handed to the worker for the first time (not a redelivery). Returns the sequences
   * it skipped, when it did.
   */
  advance(seq: number, now: number): { from: number; to: number } | undefined {
    if (seq <= this.#seq) return undefined
    const from = this.#seq + 1
    this.#seq = seq
    if (seq === from) return undefined
    // the earliest skip counts: what came before it is all the worker surely has
    if (this.#gap === undefined || this.#gap.until <= now)
      this.#gap = { before: from - 1, until: now + this.#memoryMs }
    return { from, to: seq - 1 }
  }

  /** Every message up to this sequence reached the worker: before a skip still remembered, else {@link seq}. */
  received(now: number): number {
    const gap = this.#gap
    if (gap === undefined) return this.#seq
    if (gap.until > now) return gap.before
    this.#gap = undefined
    return this.#seq
  }
}
