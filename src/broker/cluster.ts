/**
 * The broker's link between the worker threads of one server: one
 * BroadcastChannel carries every message. A BroadcastChannel gives each
 * receiver one queue in which messages keep their causal order (a message
 * posted after another was received arrives after it), which the session
 * hand-over relies on (see docs/broker-design.md). Messages addressed to
 * some workers carry `to`; the others drop them on arrival.
 */
import { BroadcastChannel } from 'node:worker_threads'
import type { BrokerMessage } from './message.ts'
import type { RetainVersion } from './retained-store.ts'
import type { Delivery, SessionSnapshot } from './session.ts'

/** A session's claim on its client id: later `time` wins, `worker` breaks ties. */
export interface Stamp {
  time: number
  worker: number
}

export type ClusterMessage =
  /** A worker started: the others answer with `sync`. */
  | { t: 'hello'; from: number }
  /** A worker's full routing share and session directory, for `to`. */
  | {
      t: 'sync'
      from: number
      to: number
      seq: number
      filters: [string, number][]
      sessions: [string, Stamp][]
    }
  /** A worker is leaving: forget its subscriptions and sessions. */
  | { t: 'bye'; from: number }
  /**
   * Subscription count changes of `from`, in `seq` order; `restored` lists the
   * sessions [clientId, previous worker] whose subscriptions this change announces.
   */
  | { t: 'subs'; from: number; seq: number; deltas: [string, number][]; restored: [string, number][] }
  /** `from` applied `subs` up to `seq` of `to`. */
  | { t: 'subs-ack'; from: number; to: number; seq: number }
  | { t: 'retain'; from: number; message: BrokerMessage; version: RetainVersion }
  | { t: 'retain-sync-req'; from: number; to: number }
  | { t: 'retain-sync'; from: number; to: number; entries: [BrokerMessage, RetainVersion][] }
  /** `from` now holds the session of `clientId`. */
  | { t: 'held'; from: number; clientId: string; stamp: Stamp }
  /** The session of `clientId` ended on `from`. */
  | { t: 'released'; from: number; clientId: string }
  /** Asks `to` to close `clientId`'s connection and hand its session over (`resume`) or end it. */
  | { t: 'take'; from: number; to: number; reqId: number; clientId: string; resume: boolean }
  /**
   * Answer to `take`: the session, or null (none, or ended for a clean start);
   * `redirect` names the worker the session already moved to.
   */
  | {
      t: 'given'
      from: number
      to: number
      reqId: number
      clientId: string
      snapshot: SessionSnapshot | null
      redirect?: number
    }
  /**
   * A message for the workers in `to`; `seen[i]` is the last `subs` seq of
   * `to[i]` the publisher had applied, `fromSeq` its own; `shared[i]` lists
   * the share groups `to[i]` was chosen for.
   */
  | {
      t: 'pub'
      from: number
      fromSeq: number
      to: number[]
      seen: number[]
      shared: ([string, string][] | null)[]
      message: BrokerMessage
    }
  /** One delivery for one client, forwarded to the worker now holding its session. */
  | { t: 'direct'; from: number; to: number; clientId: string; delivery: Delivery }

export class Cluster {
  readonly workerId: number
  readonly #channel: BroadcastChannel
  #closed = false

  constructor(name: string, workerId: number, onMessage: (message: ClusterMessage) => void) {
    this.workerId = workerId
    this.#channel = new BroadcastChannel(name)
    // Never keep a worker alive just for the broker's channel
    this.#channel.unref()
    this.#channel.onmessage = (event) => {
      const message = (event as { data: ClusterMessage }).data
      if ('to' in message) {
        const to = message.to
        if (typeof to === 'number' ? to !== workerId : !to.includes(workerId)) return
      }
      onMessage(message)
    }
  }

  post(message: ClusterMessage): void {
    if (!this.#closed) this.#channel.postMessage(message)
  }

  close(): void {
    this.#closed = true
    this.#channel.close()
  }
}
