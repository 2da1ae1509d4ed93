/**
 * The messages workers exchange about routing, retained messages and
 * sessions (cluster.ts carries them): a file of their own so the encoding
 * (wire.ts) and the carrier import the types without importing each other.
 */
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
  | {
      t: 'subs'
      from: number
      seq: number
      deltas: [string, number][]
      restored: [string, number][]
      /** The copy sent over the pair's port, ahead of the BroadcastChannel one (see above). */
      fast?: true
    }
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
      /** Re-routed share group delivery only: no plain subscribers, no further re-routing. */
      sharedOnly?: true
      /** QoS 1/2: to be confirmed with `pub-ok` (backpressure.ts). */
      id?: number
    }
  /** `from` confirms the QoS 1/2 `pub` messages `ids` of `to`: delivered, and no congested session held them (backpressure.ts). */
  | { t: 'pub-ok'; from: number; to: number; ids: number[]; failed?: number[] }
  /** One delivery for one client, forwarded to the worker now holding its session. */
  | { t: 'direct'; from: number; to: number; clientId: string; delivery: Delivery }
