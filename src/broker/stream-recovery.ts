/**
 * What a worker does about the QoS stream after NATS trouble (docs/cluster.md,
 * "nats-server 2.9.10 acknowledges publishes …" and the known gaps):
 *
 * - it tracks what its own consumer handed to it ({@link StreamPosition}) and
 *   says so to the other workers (`$MQTTD.node.<node>.<link>.position`);
 * - as a publisher, after a reconnect, it finds which of its recently
 *   acknowledged publishes the stream lost in a restart, judged by what the
 *   workers received, not by the consumers' positions (a consumer pulled after
 *   a restart steps over the lost sequences and reports them delivered); the
 *   ordered publisher sends those again first;
 * - as a reader, when its consumer skipped sequences the stream still has
 *   (sent into a connection that died), it has them sent again by shortening
 *   its consumer's ack_wait for a while.
 */
import type { JetStreamManager } from '@nats-io/jetstream'
import type { NatsConnection } from '@nats-io/transport-node'
import type { Logger } from 'pino'
import { noResponders } from '../cluster/connect.ts'
import { GROUP_CONSUMER, nodeSubject, QOS_STREAM, WORKER_CONSUMER } from '../cluster/names.ts'
import type { CounterChild } from '../metrics/prom.ts'
import { pause } from '../runtime/pause.ts'
import type { AckedPublish } from './ordered-stream-publisher.ts'
import { StreamPosition } from './stream-position.ts'

/** Stream look-ups in flight at once while checking what a NATS restart lost. */
const LOOKUPS_AT_ONCE = 32
/** Most sequences a worker looks up after its consumer skipped some (the last ones). */
const MAX_SKIPPED_LOOKUPS = 100_000
/** A worker's consumer's ack_wait while it sends again what went into a connection that died. */
const REDELIVER_ACK_WAIT_NS = 2000 * 1e6
/** Longest a worker waits for those (a few ack_waits). */
const REDELIVER_WAIT_MS = 10_000
/** How long a worker remembers a sequence its consumer skipped: longer than a check after a reconnect lasts. */
const GAP_MEMORY_MS = 30_000
/** Longest the check after a reconnect waits for a worker to say what it received (StreamPosition). */
const POSITIONS_WAIT_MS = 1500
const POSITIONS_RETRY_MS = 100

export interface StreamRecoveryOptions {
  jsm: JetStreamManager
  nc: NatsConnection
  log: Logger
  /** The worker's own consumer (`<node>_<link>`). */
  durable: string
  /** Its position when it was made: nothing before it is for this worker. */
  start: number
  /** Its ack_wait in normal times (set back after a redelivery window). */
  ackWaitNs: number
  /** How long a look-up keeps trying while NATS or the stream is away. */
  publishTimeoutMs: number
  /** `mqttd_cluster_stream_recovered_total{cause="restart_lost"}` of this node. */
  restartLost: CounterChild
  /** `mqttd_cluster_stream_recovered_total{cause="connection_lost"}` of this node. */
  connectionLost: CounterChild
  /** Whether the worker's bridge closed: every wait ends. */
  closed: () => boolean
}

export class StreamRecovery {
  /** What this worker's own consumer handed to it. */
  readonly position: StreamPosition
  readonly #o: StreamRecoveryOptions
  /** Sequences the consumer sent into a connection that died, asked for again (#recoverSkipped). */
  readonly #owed = new Set<number>()
  /** Whether the consumer has the short ack_wait that sends the owed ones again. */
  #redelivering = false
  /** Until when the open window waits: each skip found meanwhile gets its own REDELIVER_WAIT_MS. */
  #redeliverUntil = 0

  constructor(options: StreamRecoveryOptions) {
    this.#o = options
    this.position = new StreamPosition(options.start, GAP_MEMORY_MS)
  }

  /**
   * A message from the worker's own consumer: whether the worker handles it. A redelivery is one
   * still held here (ack_wait is an hour), unless it was asked for again because the first copy
   * went into a connection that died; a first delivery after skipped sequences starts the look-up
   * of those.
   */
  admit(seq: number, redelivered: boolean): boolean {
    if (redelivered) return this.#owed.delete(seq)
    const skipped = this.position.advance(seq, Date.now())
    if (skipped !== undefined) void this.#recoverSkipped(skipped.from, skipped.to)
    return true
  }

  /**
   * Which of `acked` (acknowledged shortly before the connection was lost) the stream no longer
   * has although a worker never received them: nats-server 2.9 acknowledges publishes while it
   * shuts down that are gone after its restart (docs/cluster.md). A message all consumers took is
   * gone legitimately (interest retention); so a missing one counts as lost only beyond the lowest
   * position up to which the workers received everything, asked again after the look-ups
   * (positions only grow).
   * Share groups' consumers are left out: their filters skip what they do not match.
   */
  async lostInRestart(acked: readonly AckedPublish[]): Promise<Set<string>> {
    // a nats-server that just started may not answer for its stream yet
    try {
      return await this.#retrying(() => this.#lostAmong(acked))
    } catch (err) {
      this.#o.log.warn({ err, acked: acked.length }, 'cluster: could not check what a NATS restart lost')
      throw err
    }
  }

  async #lostAmong(acked: readonly AckedPublish[]): Promise<Set<string>> {
    // what every worker received already is not in question (and usually all of it is)
    const asked = await this.#receivedFloor()
    const candidates = acked.filter((a) => a.seq > asked.floor)
    // a dead worker's consumer, still there, can leave all of them in question; a look-up error (a
    // stream not recovered yet) retries the whole check
    const stored = await this.#stored(
      candidates.map((a) => a.seq),
      (seq) => this.#o.jsm.streams.getMessage(QOS_STREAM, { seq }),
    )
    const missing = candidates.filter((a) => !stored.has(a.seq))
    if (missing.length === 0) return new Set()
    // asked again: one that all workers received since, then all acknowledged, is gone legitimately
    const { floor } = await this.#receivedFloor(asked.silent)
    const lost = new Set(missing.filter((a) => a.seq > floor).map((a) => a.msgID))
    this.#o.restartLost.inc(lost.size)
    if (lost.size > 0)
      this.#o.log.warn(
        { lost: lost.size, floor },
        'cluster: JetStream lost messages it had acknowledged (a NATS restart); sending them again',
      )
    return lost
  }

  /**
   * The lowest stream position up to which the workers (their own consumers, not the share
   * groups') received every message. Each live worker says it (`position`): a consumer pulled
   * after a restart steps over the messages the restart lost and reports them delivered, so its
   * own `delivered` would hide them. A worker that does not answer within POSITIONS_WAIT_MS (a
   * dead one, whose consumer nobody pulls) counts with its consumer's `delivered`, and is not
   * waited for again in a second look (`silent`).
   */
  async #receivedFloor(
    silent: ReadonlySet<string> = new Set(),
  ): Promise<{ floor: number; silent: Set<string> }> {
    const consumers: [string, number][] = []
    for await (const c of this.#o.jsm.consumers.list(QOS_STREAM))
      if (!GROUP_CONSUMER.test(c.name)) consumers.push([c.name, c.delivered.stream_seq])
    const deadline = Date.now() + POSITIONS_WAIT_MS
    const stillSilent = new Set<string>()
    const positions = await Promise.all(
      consumers.map(async ([name, delivered]) => {
        const said = silent.has(name) ? undefined : await this.#askPosition(name, deadline)
        if (said !== undefined) return said
        stillSilent.add(name)
        return delivered
      }),
    )
    return { floor: Math.min(Number.POSITIVE_INFINITY, ...positions), silent: stillSilent }
  }

  /** What worker consumer `name`'s worker received (StreamPosition), or undefined when it does not say by `deadline`. */
  async #askPosition(name: string, deadline: number): Promise<number | undefined> {
    if (name === this.#o.durable) return this.position.received(Date.now())
    const parsed = WORKER_CONSUMER.exec(name)
    if (parsed === null) return undefined
    const subject = nodeSubject(parsed[1]!, `${parsed[2]!}.position`)
    while (!this.#o.closed()) {
      const left = deadline - Date.now()
      if (left <= 0) return undefined
      try {
        const said = Number((await this.#o.nc.request(subject, '', { timeout: left })).string())
        return Number.isSafeInteger(said) ? said : undefined
      } catch (err) {
        // no responders: not reconnected yet, or dead; asked again until the deadline
        if (!noResponders(err)) return undefined
        await pause(POSITIONS_RETRY_MS)
      }
    }
    return undefined
  }

  /**
   * Sequences this worker's consumer stepped over (StreamPosition). One the stream still has was
   * sent into a connection that died: the consumer counts it delivered and would send it again only
   * after its ack_wait (an hour), to be ignored as one held here. Such ones are asked for again by
   * shortening the consumer's ack_wait until they came (the messages held here come again
   * meanwhile and are ignored), then it is set back. One the stream no longer has was lost by a
   * restart: its publisher sends it again (lostInRestart).
   */
  async #recoverSkipped(from: number, to: number): Promise<void> {
    const first = Math.max(from, to - MAX_SKIPPED_LOOKUPS + 1)
    if (first > from)
      this.#o.log.warn(
        { from, to },
        'cluster: the stream skipped more messages than are looked up; only the last ones are',
      )
    let present: number[]
    try {
      const skipped = Array.from({ length: to - first + 1 }, (_, i) => first + i)
      const stored = await this.#stored(skipped, (seq) =>
        this.#retrying(() => this.#o.jsm.streams.getMessage(QOS_STREAM, { seq })),
      )
      present = skipped.filter((seq) => stored.has(seq))
    } catch (err) {
      this.#o.log.warn({ err, from, to }, 'cluster: could not look up the messages the stream skipped')
      return
    }
    if (present.length === 0 || this.#o.closed()) return
    for (const seq of present) this.#owed.add(seq)
    this.#o.connectionLost.inc(present.length)
    this.#o.log.warn(
      { count: present.length, from, to },
      'cluster: messages sent to this worker into a lost NATS connection; asking for them again',
    )
    // one window at a time: a window open already waits for these too, as long as for its first ones
    this.#redeliverUntil = Date.now() + REDELIVER_WAIT_MS
    if (this.#redelivering) return
    this.#redelivering = true
    const durable = this.#o.durable
    try {
      await this.#retrying(() =>
        this.#o.jsm.consumers.update(QOS_STREAM, durable, { ack_wait: REDELIVER_ACK_WAIT_NS }),
      )
      // counted from when the short ack_wait is in place
      this.#redeliverUntil = Math.max(this.#redeliverUntil, Date.now() + REDELIVER_WAIT_MS)
      while (this.#owed.size > 0 && !this.#o.closed() && Date.now() < this.#redeliverUntil) await pause(50)
      if (this.#owed.size > 0) {
        this.#o.log.warn({ missing: this.#owed.size }, 'cluster: messages asked for again did not come')
        this.#owed.clear()
      }
    } catch (err) {
      this.#o.log.warn({ err }, 'cluster: could not ask for the messages the stream skipped')
      this.#owed.clear()
    } finally {
      // what persistent sessions hold stays pending, not sent again every few seconds
      await this.#retrying(
        () => this.#o.jsm.consumers.update(QOS_STREAM, durable, { ack_wait: this.#o.ackWaitNs }),
        Number.POSITIVE_INFINITY,
      ).catch((err: unknown) =>
        this.#o.log.error({ err }, "cluster: could not set the consumer's ack_wait back"),
      )
      this.#redelivering = false
    }
  }

  /** Which of `seqs` the stream has (`get` answers null for no message), LOOKUPS_AT_ONCE look-ups at a time. */
  async #stored(seqs: readonly number[], get: (seq: number) => Promise<unknown>): Promise<Set<number>> {
    const stored = new Set<number>()
    let next = 0
    const lookUp = async (): Promise<void> => {
      while (next < seqs.length) {
        const seq = seqs[next++]!
        if ((await get(seq)) !== null) stored.add(seq)
      }
    }
    await Promise.all(Array.from({ length: Math.min(LOOKUPS_AT_ONCE, seqs.length) }, lookUp))
    return stored
  }

  /** Runs `op` again (NATS away, a stream not recovered yet) until it succeeds, for publishTimeoutMs at most by default. */
  async #retrying<T>(op: () => Promise<T>, forMs = this.#o.publishTimeoutMs): Promise<T> {
    const deadline = Date.now() + forMs
    for (;;) {
      try {
        return await op()
      } catch (err) {
        if (this.#o.closed() || Date.now() >= deadline) throw err
        await pause(100)
      }
    }
  }
}
