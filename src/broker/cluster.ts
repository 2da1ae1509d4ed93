/**
 * The broker's links between the worker threads of one server.
 *
 * Control (subscription changes, retained messages, the session directory
 * and hand-over) goes over one BroadcastChannel: each receiver has one queue
 * in which messages keep their causal order (a message posted after another
 * was received arrives after it), which the hand-over relies on (see
 * docs/broker-design.md). Messages addressed to some workers carry `to`; the
 * others drop them on arrival.
 *
 * Data (`pub`, `direct`) goes over a mesh of MessagePorts, one per pair of
 * workers, so a message is cloned only into the workers it is for (the
 * BroadcastChannel clones every post into every peer). The lower thread id of
 * a pair creates the pair's channel and hands one end over with
 * `postMessageToThread`. Until a pair's port is up, data falls back to the
 * BroadcastChannel. Data correctness does not depend on its order relative to
 * control: the hand-over decisions use sequence numbers (forwarding.ts).
 */
import { BroadcastChannel, MessageChannel, type MessagePort, postMessageToThread } from 'node:worker_threads'
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
      /** Re-routed share group delivery only: no plain subscribers, no further re-routing. */
      sharedOnly?: true
      /** QoS 1/2: to be confirmed with `pub-ok` (backpressure.ts). */
      id?: number
    }
  /** `from` confirms the QoS 1/2 `pub` messages `ids` of `to`: delivered, and no congested session held them (backpressure.ts). */
  | { t: 'pub-ok'; from: number; to: number; ids: number[]; failed?: number[] }
  /** One delivery for one client, forwarded to the worker now holding its session. */
  | { t: 'direct'; from: number; to: number; clientId: string; delivery: Delivery }

/** What one worker hands another through `postMessageToThread` to open their pair's port. */
interface PortOffer {
  mqttdBroker: string
  from: number
  port: MessagePort
}

export class Cluster {
  readonly workerId: number
  readonly #name: string
  readonly #channel: BroadcastChannel
  readonly #onMessage: (message: ClusterMessage) => void
  readonly #ports = new Map<number, MessagePort>()
  readonly #offering = new Set<number>()
  readonly #onWorkerMessage: (value: unknown) => void
  readonly #onPeerGone: (peer: number) => void
  #closed = false

  /**
   * `onPeerGone` hears of a peer whose port closed without a `bye`: its thread
   * exited (crashed or was terminated), which a port reports and a
   * BroadcastChannel does not.
   */
  constructor(
    name: string,
    workerId: number,
    onMessage: (message: ClusterMessage) => void,
    onPeerGone: (peer: number) => void = () => {},
  ) {
    this.workerId = workerId
    this.#onPeerGone = onPeerGone
    this.#name = name
    this.#onMessage = onMessage
    this.#channel = new BroadcastChannel(name)
    // Never keep a worker alive just for the broker's channels
    this.#channel.unref()
    this.#channel.onmessage = (event) => {
      const message = (event as { data: ClusterMessage }).data
      if ('to' in message) {
        const to = message.to
        if (typeof to === 'number' ? to !== workerId : !to.includes(workerId)) return
      }
      onMessage(message)
    }
    this.#onWorkerMessage = (value) => {
      const offer = value as Partial<PortOffer> | null
      if (offer?.mqttdBroker === name && typeof offer.from === 'number' && offer.port !== undefined) {
        this.#addPort(offer.from, offer.port)
      }
    }
    process.on('workerMessage', this.#onWorkerMessage)
  }

  /** Number of peers reachable over a port. */
  get portCount(): number {
    return this.#ports.size
  }

  /** A peer is known: the lower thread id of the pair opens their port. */
  meet(peer: number): void {
    if (this.#closed || peer <= this.workerId || this.#ports.has(peer) || this.#offering.has(peer)) return
    this.#offering.add(peer)
    const { port1, port2 } = new MessageChannel()
    const offer: PortOffer = { mqttdBroker: this.#name, from: this.workerId, port: port2 }
    postMessageToThread(peer, offer, [port2], 5000).then(
      () => {
        this.#offering.delete(peer)
        if (this.#closed) port1.close()
        else this.#addPort(peer, port1)
      },
      () => {
        // The peer is gone or not a broker worker: data keeps using the BroadcastChannel
        this.#offering.delete(peer)
        port1.close()
      },
    )
  }

  #addPort(peer: number, port: MessagePort): void {
    this.#ports.get(peer)?.close()
    this.#ports.set(peer, port)
    port.on('message', (message: ClusterMessage) => this.#onMessage(message))
    port.on('close', () => {
      // forget() and close() remove the port first: only an exit of the peer's thread gets here
      if (this.#ports.get(peer) !== port) return
      this.#ports.delete(peer)
      if (!this.#closed) this.#onPeerGone(peer)
    })
    port.unref()
  }

  /** The peer left: its port goes. */
  forget(peer: number): void {
    const port = this.#ports.get(peer)
    this.#ports.delete(peer)
    port?.close()
  }

  /** Control: to every peer over the BroadcastChannel, in causal order. */
  post(message: ClusterMessage): void {
    if (!this.#closed) this.#channel.postMessage(message)
  }

  /** Data for the workers in `to`: over their ports when all have one, else over the BroadcastChannel. */
  send(to: readonly number[], message: ClusterMessage): void {
    if (this.#closed) return
    for (const peer of to) {
      if (!this.#ports.has(peer)) {
        this.#channel.postMessage(message)
        return
      }
    }
    for (const peer of to) this.#ports.get(peer)!.postMessage(message)
  }

  close(): void {
    this.#closed = true
    process.off('workerMessage', this.#onWorkerMessage)
    this.#channel.close()
    const ports = [...this.#ports.values()]
    this.#ports.clear()
    for (const port of ports) port.close()
  }
}
