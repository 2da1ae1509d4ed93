/**
 * One worker's JetStream publishes (its QoS 1/2 messages for the other
 * nodes), stored in the order the worker made them even when NATS goes away
 * with some of them in flight, so one publisher's messages reach subscribers
 * on other nodes in its order [3.1.1 MQTT-4.6.0-5] [5.0 MQTT-4.6.0-5].
 *
 * Publishes are pipelined (a connection's QoS 1/2 messages are in flight
 * together). Retrying each one on its own broke the order across a NATS
 * outage: a publish written into the connection that died is lost and
 * retried only after its timeout, while one made a little later, buffered by
 * the NATS client during its reconnect, goes out on the new connection first
 * and is stored before it. So here nothing new goes out from the moment the
 * connection is lost, or a publish failed, until every publish not yet
 * acknowledged is sent again, in the original order and on one connection
 * (its order is the order the stream stores them in). A message id per
 * publish (`Nats-Msg-Id`) makes the stream keep one copy of a message sent
 * twice.
 *
 * What this cannot order: a publish that fails while the connection stays up
 * (JetStream answering "no responders" during a leader election, or a
 * timeout) when publishes made after it were already sent and get stored
 * before its re-send.
 */
import type { MsgHdrs } from '@nats-io/transport-node'

/** JetStream's publish (`JetStreamClient.publish`): resolves with the stream sequence once the stream stored the message. */
export type StreamPublish = (
  subject: string,
  payload: Uint8Array,
  options: { headers: MsgHdrs; msgID: string; timeout: number },
) => Promise<{ seq: number }>

/** A publish the stream acknowledged shortly before the connection was lost. */
export interface AckedPublish {
  seq: number
  msgID: string
}

export interface OrderedStreamPublisherOptions {
  publish: StreamPublish
  /** How long a publish may take in all, its re-sends included (cluster.publishTimeoutMs). */
  timeoutMs: number
  /** Longest one attempt waits for the stream's answer (default 2,000 ms). */
  attemptMs?: number
  /** Pause after a failure before the re-send, and how often held publishes are checked for their deadline (default 100 ms). */
  retryMs?: number
  /** A publish attempt failed (it is sent again until its deadline). */
  onFailure?: (err: unknown) => void
  /**
   * How long an acknowledged publish is kept for `lost` (default 0: not kept). nats-server 2.9
   * acknowledges publishes while it shuts down that are gone after its restart (docs/cluster.md).
   */
  keepAckedMs?: number
  /**
   * After a reconnect: which of the publishes acknowledged in the last `keepAckedMs` before the
   * disconnect the stream lost (their msgIDs). They are sent again, in order, before anything else.
   */
  lost?: (acked: readonly AckedPublish[]) => Promise<ReadonlySet<string>>
}

interface Kept extends AckedPublish {
  entry: Entry
  at: number
}

interface Entry {
  subject: string
  payload: Uint8Array
  headers: MsgHdrs
  msgID: string
  deadline: number
  /** Attempts made: a failure of an earlier one than the last is stale. */
  attempt: number
  done: boolean
  resolve: (stored: boolean) => void
}

/**
 * A list read from `head` (the items before it are gone) without shifting it on every removal:
 * emptied once nothing is left, copied once the gone front is most of a long list, else as it is.
 */
function compactFront<T>(list: T[], head: number): T[] {
  if (head === list.length) return head === 0 ? list : []
  return head > 1024 && head * 2 > list.length ? list.slice(head) : list
}

export class OrderedStreamPublisher {
  readonly #publish: StreamPublish
  readonly #timeoutMs: number
  readonly #attemptMs: number
  readonly #retryMs: number
  readonly #onFailure: ((err: unknown) => void) | undefined
  readonly #keepAckedMs: number
  readonly #lost: OrderedStreamPublisherOptions['lost']
  /** Acknowledged in the last `keepAckedMs`, oldest first, from `#keptHead`. */
  #kept: Kept[] = []
  #keptHead = 0
  /** What was kept when the connection was lost: checked with `lost` after the reconnect. */
  #suspect: Kept[] = []
  /** Disconnects and reconnects so far: a `lost` answer after a later one is stale. */
  #epoch = 0
  /** Publishes not settled yet, in the order they were made, from `#head` (settled ones are trimmed from the front). */
  #entries: Entry[] = []
  #head = 0
  #connected = true
  /** Nothing new goes out: the connection is lost or a publish failed, and the re-send has not happened yet. */
  #held = false
  #timer: NodeJS.Timeout | undefined
  #closed = false

  constructor(options: OrderedStreamPublisherOptions) {
    this.#publish = options.publish
    this.#timeoutMs = options.timeoutMs
    this.#attemptMs = options.attemptMs ?? 2000
    this.#retryMs = options.retryMs ?? 100
    this.#onFailure = options.onFailure
    this.#keepAckedMs = options.keepAckedMs ?? 0
    this.#lost = options.lost
  }

  /** Resolves true once the stream stored the message, false when it did not within `timeoutMs` (or on close). */
  publish(subject: string, payload: Uint8Array, headers: MsgHdrs, msgID: string): Promise<boolean> {
    if (this.#closed) return Promise.resolve(false)
    return new Promise<boolean>((resolve) => {
      const entry: Entry = {
        subject,
        payload,
        headers,
        msgID,
        deadline: Date.now() + this.#timeoutMs,
        attempt: 0,
        done: false,
        resolve,
      }
      this.#entries.push(entry)
      if (this.#connected && !this.#held) this.#attempt(entry)
      // held: refused at its deadline if NATS stays away
      else this.#arm()
    })
  }

  /** The NATS connection was lost: what is in flight may be lost with it, and nothing new goes out. */
  disconnected(): void {
    this.#epoch++
    this.#trimKept(Date.now())
    for (let i = this.#keptHead; i < this.#kept.length; i++) this.#suspect.push(this.#kept[i]!)
    this.#kept = []
    this.#keptHead = 0
    this.#connected = false
    this.#held = true
    this.#arm()
  }

  /** The NATS connection is back: every publish not acknowledged is sent again, in order, before anything new. */
  reconnected(): void {
    const epoch = ++this.#epoch
    const back = (lost?: ReadonlySet<string>) => {
      if (epoch !== this.#epoch || this.#closed) return
      const suspect = this.#suspect
      this.#suspect = []
      if (lost !== undefined && lost.size > 0) {
        // sent again first, in their order; their publishers had their answer already
        const now = Date.now()
        const again: Entry[] = suspect
          .filter((k) => lost.has(k.msgID))
          .map((k) => ({
            ...k.entry,
            deadline: now + this.#timeoutMs,
            attempt: 0,
            done: false,
            resolve: () => {},
          }))
        this.#entries = [...again, ...this.#entries.slice(this.#head)]
        this.#head = 0
      }
      this.#connected = true
      clearTimeout(this.#timer)
      this.#timer = undefined
      this.#resend()
    }
    if (this.#lost === undefined || this.#suspect.length === 0) back()
    else
      this.#lost(this.#suspect.map((k) => ({ seq: k.seq, msgID: k.msgID }))).then(back, (err: unknown) => {
        this.#onFailure?.(err)
        back()
      })
  }

  /** Settles everything not stored yet as not stored. */
  close(): void {
    this.#closed = true
    clearTimeout(this.#timer)
    this.#timer = undefined
    for (const entry of this.#entries.slice(this.#head)) this.#settle(entry, false)
  }

  #attempt(entry: Entry): void {
    const attempt = ++entry.attempt
    const timeout = Math.max(1, Math.min(entry.deadline - Date.now(), this.#attemptMs))
    this.#publish(entry.subject, entry.payload, { headers: entry.headers, msgID: entry.msgID, timeout }).then(
      // any attempt's success counts: the stream has it
      (ack) => {
        if (this.#keepAckedMs > 0 && !entry.done) {
          const at = Date.now()
          this.#trimKept(at)
          this.#kept.push({ seq: ack.seq, msgID: entry.msgID, entry, at })
        }
        this.#settle(entry, true)
      },
      (err: unknown) => {
        if (entry.done || entry.attempt !== attempt) return
        this.#onFailure?.(err)
        this.#held = true
        this.#arm()
      },
    )
  }

  #trimKept(now: number): void {
    const kept = this.#kept
    while (this.#keptHead < kept.length && kept[this.#keptHead]!.at < now - this.#keepAckedMs)
      this.#keptHead++
    const compact = compactFront(kept, this.#keptHead)
    if (compact !== kept) {
      this.#kept = compact
      this.#keptHead = 0
    }
  }

  #settle(entry: Entry, stored: boolean): void {
    if (entry.done) return
    entry.done = true
    entry.resolve(stored)
    const entries = this.#entries
    while (this.#head < entries.length && entries[this.#head]!.done) this.#head++
    const compact = compactFront(entries, this.#head)
    if (compact !== entries) {
      this.#entries = compact
      this.#head = 0
    }
  }

  /** While held: re-send after `retryMs` when connected, else check the held publishes' deadlines every `retryMs`. */
  #arm(): void {
    if (this.#timer !== undefined || this.#closed) return
    this.#timer = setTimeout(() => {
      this.#timer = undefined
      if (this.#connected) {
        this.#resend()
        return
      }
      this.#expire(Date.now())
      if (this.#head < this.#entries.length) this.#arm()
    }, this.#retryMs)
  }

  #expire(now: number): void {
    // not in deadline order: the re-sends of what a restart lost go first with fresh deadlines
    // a copy: settling trims and compacts the list
    for (const entry of this.#entries.slice(this.#head)) if (entry.deadline <= now) this.#settle(entry, false)
  }

  #resend(): void {
    if (this.#closed) return
    this.#held = false
    const now = Date.now()
    this.#expire(now)
    for (let i = this.#head; i < this.#entries.length; i++) {
      const entry = this.#entries[i]!
      if (!entry.done) this.#attempt(entry)
    }
  }
}
