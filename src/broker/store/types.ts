/**
 * The broker's state store: the one narrow interface through which the broker
 * writes what must survive a crash, a restart or a worker death, and reads it
 * back. Writes are buffered and committed in groups; `commit()` tells when what
 * was written so far is durable, so an acknowledgement can wait for it.
 *
 * The embedded backend is sqlite-store.ts (one `node:sqlite` file shared by all
 * workers). The interface is shaped for a distributed backend too: every write
 * is keyed by client id (a JetStream KV bucket per kind, or a stream subject per
 * client), ownership of a session is an explicit claim (`adopt`), and nothing
 * here assumes a shared file or SQL.
 */
import type { BrokerMessage } from '../message.ts'
import type { Delivery, Subscription } from '../session.ts'
import type { Will } from '../will.ts'

/** A QoS 1/2 message held for a session: queued (no packet id) or in flight. */
export interface StoredDelivery extends Delivery {
  /** Order within the session, unique per session. */
  seq: number
  packetId: number | undefined
  /** 'publish': sent or queued, 'pubrel': PUBREC received, PUBREL sent. */
  state: 'publish' | 'pubrel'
}

/** A session's row: what outlives its connection. */
export interface SessionState {
  clientId: string
  expiryInterval: number
  /** The will still to publish: while connected, or during its delay. */
  will: Will | undefined
  /** Whether the client was connected when last written (its will is due if the process died). */
  connected: boolean
  /** When its connection closed (ms since epoch); undefined while connected. */
  disconnectedAt: number | undefined
}

/** Everything stored for one session. */
export interface SessionRecord extends SessionState {
  subscriptions: [string, Subscription][]
  /** Ordered by seq. */
  outbound: StoredDelivery[]
  /** QoS 2 packet ids from the client whose PUBREC was sent and whose PUBREL has not come. */
  inbound: number[]
}

/** Sizes for metrics and the `maxBytes` bound. */
export interface StoreStats {
  bytes: number
  rows: { sessions: number; subscriptions: number; outbound: number; retained: number; inbound: number }
}

export interface BrokerStore {
  /** Whether the store reached `maxBytes`: new persistent state is refused until it shrinks. */
  readonly full: boolean
  putRetained(message: BrokerMessage, time: number, worker: number): void
  deleteRetained(topic: string, time: number, worker: number): void
  /** Stored retained messages that have not expired. */
  loadRetained(now: number): { message: BrokerMessage; time: number; worker: number }[]

  putSession(state: SessionState): void
  /** Deletes the session with its subscriptions and messages. */
  deleteSession(clientId: string): void
  putSubscription(clientId: string, filter: string, sub: Subscription): void
  deleteSubscription(clientId: string, filter: string): void

  /** Stores `delivery`, which the store then owns (it may change it until committed): pass an object of its own. */
  addOutbound(clientId: string, delivery: StoredDelivery): void
  updateOutbound(
    clientId: string,
    seq: number,
    packetId: number | undefined,
    state: 'publish' | 'pubrel',
  ): void
  deleteOutbound(clientId: string, seq: number): void
  clearOutbound(clientId: string): void
  /**
   * This worker no longer holds the session (it moved, ended or was taken over): whatever the
   * store keeps in memory for it goes; what is stored stays.
   */
  release(clientId: string): void

  /** A QoS 2 message from the client was accepted: its packet id awaits PUBREL (written before PUBREC). */
  putInbound(clientId: string, packetId: number): void
  /** PUBREL came: the id is free (written before PUBCOMP, since the client may then reuse it). */
  deleteInbound(clientId: string, packetId: number): void

  /**
   * Takes over every session whose owner `isOrphan` (a previous run, a dead
   * worker) and returns them; a session is adopted by exactly one caller.
   */
  adopt(isOrphan: (owner: string) => boolean): SessionRecord[]

  /**
   * Resolves true once everything written so far is committed (false: the
   * commit failed, e.g. the disk is full); undefined when nothing is pending.
   */
  commit(): Promise<boolean> | undefined
  /** Commits what is pending now, on this thread (before a session leaves this worker). */
  flushNow(): boolean
  stats(): StoreStats
  close(): void
}
