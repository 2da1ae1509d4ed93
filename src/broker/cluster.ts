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
 * Data (`pub`, `direct`, `pub-ok`) goes over a mesh of MessagePorts, one per
 * pair of workers, so a message is cloned only into the workers it is for
 * (the BroadcastChannel clones every post into every peer). The lower thread
 * id of a pair creates the pair's channel and hands one end over with
 * `postMessageToThread`. Until a pair's port is up, data falls back to the
 * BroadcastChannel. Data correctness does not depend on its order relative to
 * control: the hand-over decisions use sequence numbers (forwarding.ts).
 *
 * Data is batched: one `postMessage` per peer per event-loop turn (flushed
 * from `setImmediate`, after the turn's socket reads were routed), carrying
 * the turn's messages as one array. A message that crosses workers then costs
 * a share of one clone, one wake-up of the receiver and one pass over the
 * batch, instead of a wake-up (a context switch when the workers share a
 * core) and a socket write of its own.
 *
 * Subscription changes (`subs`) also go over the ports, ahead of their
 * BroadcastChannel copy, behind the data already queued for that peer; then
 * the sender stores its `subs` sequence in a shared cell (one Int32 in a
 * SharedArrayBuffer per worker, handed to each peer over the port). A worker
 * about to route compares each peer's cell with its value at the last drain
 * and, when it moved, takes the queued messages off that port synchronously
 * (`receiveMessageOnPort`) before routing: a SUBSCRIBE handled anywhere
 * before a PUBLISH is handled here is routed to (issue 11, item 2). The check
 * costs one atomic load per peer per publish.
 *
 * Session directory changes (`held` on every connect, `released` on every
 * close) are control that may wait for the end of the turn: {@link
 * Cluster.postSoon} queues them and one BroadcastChannel post carries the
 * turn's changes, flushed before any later post so receivers see the same
 * order as if each had been posted at once. A post costs a clone and a
 * wake-up of every peer: two per connection before, one per turn now.
 */
import {
  BroadcastChannel,
  MessageChannel,
  type MessagePort,
  postMessageToThread,
  receiveMessageOnPort,
} from 'node:worker_threads'
import { onBroadcast } from '../runtime/broadcast-receive.ts'
import type { ClusterMessage } from './cluster-message.ts'
import { BatchWriter, readBatch, type WireBatch } from './wire.ts'

export type { ClusterMessage, Stamp } from './cluster-message.ts'

/** What one worker hands another through `postMessageToThread` to open their pair's port. */
interface PortOffer {
  mqttdBroker: string
  from: number
  port: MessagePort
}

/** First message on a port, each way: the sender's shared `subs` sequence cell. */
interface CellOffer {
  t: 'cell'
  cell: SharedArrayBuffer
}

/** Several control messages of one turn in one BroadcastChannel post, unpacked on arrival (see postSoon). */
interface ControlBatch {
  t: 'batch'
  messages: ClusterMessage[]
}

/** What travels over a port: a turn's data as one batch (wire.ts), a `subs` copy, or the cell. */
type PortMessage = WireBatch | ClusterMessage | CellOffer

interface Link {
  peer: number
  port: MessagePort
  /** The peer's `subs` sequence, as it stores it after posting to its ports. */
  cell: Int32Array | undefined
  /** The cell's value when this port was last drained for it. */
  checked: number
  /** Data for this peer in the current turn. */
  outbox: BatchWriter
}

/** Most data messages in one batch (one postMessage), and most bytes beyond which a batch goes at once. */
const MAX_BATCH = 256
const MAX_BATCH_BYTES = 256 * 1024

export class Cluster {
  readonly workerId: number
  readonly #name: string
  readonly #channel: BroadcastChannel
  readonly #onMessage: (message: ClusterMessage) => void
  readonly #links = new Map<number, Link>()
  /** The links whose peer's cell arrived: what catchUp() checks, as an array for a cheap loop. */
  #cells: Link[] = []
  readonly #offering = new Set<number>()
  readonly #onWorkerMessage: (value: unknown) => void
  readonly #onPeerGone: (peer: number) => void
  /** This worker's last posted `subs` sequence, read by the peers. */
  readonly #cell = new Int32Array(new SharedArrayBuffer(4))
  readonly #maxBatch: number
  #flushScheduled = false
  /** Control queued by postSoon() for the end of this turn. */
  #soon: ClusterMessage[] = []
  #draining = false
  #closed = false

  /**
   * `onPeerGone` hears of a peer whose port closed without a `bye`: its thread
   * exited (crashed or was terminated), which a port reports and a
   * BroadcastChannel does not. `maxBatch` caps the messages of one batch: the
   * receiver delivers a batch in one pass, before any write completes, so a
   * batch larger than a subscriber's `maxPendingWrites` would drop QoS 0
   * messages that one at a time would have gone out.
   */
  constructor(
    name: string,
    workerId: number,
    onMessage: (message: ClusterMessage) => void,
    onPeerGone: (peer: number) => void = () => {},
    maxBatch = MAX_BATCH,
  ) {
    this.workerId = workerId
    this.#maxBatch = Math.max(1, Math.min(MAX_BATCH, maxBatch))
    this.#onPeerGone = onPeerGone
    this.#name = name
    this.#onMessage = onMessage
    this.#channel = new BroadcastChannel(name)
    // Never keep a worker alive just for the broker's channels
    this.#channel.unref()
    const deliver = (message: ClusterMessage): void => {
      if ('to' in message) {
        const to = message.to
        if (typeof to === 'number' ? to !== workerId : !to.includes(workerId)) return
      }
      onMessage(message)
    }
    onBroadcast<ClusterMessage | ControlBatch>(this.#channel, (message) => {
      if (message.t === 'batch') for (const m of message.messages) deliver(m)
      else deliver(message)
    })
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
    return this.#links.size
  }

  /** A peer is known: the lower thread id of the pair opens their port. */
  meet(peer: number): void {
    if (this.#closed || peer <= this.workerId || this.#links.has(peer) || this.#offering.has(peer)) return
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
    const old = this.#links.get(peer)
    if (old !== undefined) {
      this.#flushLink(old)
      old.port.close()
    }
    const link: Link = { peer, port, cell: undefined, checked: 0, outbox: new BatchWriter() }
    this.#links.set(peer, link)
    port.on('message', (message: PortMessage) => this.#dispatch(link, message))
    port.on('close', () => {
      // forget() and close() remove the port first: only an exit of the peer's thread gets here
      if (this.#links.get(peer) !== link) return
      this.#links.delete(peer)
      this.#cells = this.#cells.filter((l) => l !== link)
      if (!this.#closed) this.#onPeerGone(peer)
    })
    port.unref()
    port.postMessage({ t: 'cell', cell: this.#cell.buffer as SharedArrayBuffer } satisfies CellOffer)
  }

  #dispatch(link: Link, message: PortMessage): void {
    if ('b' in message) readBatch(message, this.#onMessage)
    else if (message.t === 'cell') {
      link.cell = new Int32Array(message.cell)
      if (this.#links.get(link.peer) === link)
        this.#cells = [...this.#cells.filter((l) => l.peer !== link.peer), link]
    } else this.#onMessage(message)
  }

  /** The peer left: its port goes. */
  forget(peer: number): void {
    const link = this.#links.get(peer)
    this.#links.delete(peer)
    this.#cells = this.#cells.filter((l) => l.peer !== peer)
    link?.port.close()
  }

  /** Control: to every peer over the BroadcastChannel, in causal order. */
  post(message: ClusterMessage): void {
    if (this.#closed) return
    this.#postQueued()
    this.#channel.postMessage(message)
  }

  /**
   * Control that may wait for the end of this turn: posted with the turn's
   * others in one message, and before any later post (the same order as
   * {@link post}, one clone and one wake-up per peer for the whole turn).
   */
  postSoon(message: ClusterMessage): void {
    if (this.#closed) return
    this.#soon.push(message)
    this.#scheduleFlush()
  }

  #postQueued(): void {
    const soon = this.#soon
    if (soon.length === 0) return
    this.#soon = []
    this.#channel.postMessage(
      soon.length === 1 ? soon[0] : ({ t: 'batch', messages: soon } satisfies ControlBatch),
    )
  }

  #scheduleFlush(): void {
    if (!this.#flushScheduled) {
      this.#flushScheduled = true
      setImmediate(this.#flush)
    }
  }

  /**
   * A `subs` announcement: over every port (behind the data already queued
   * for that peer), then the shared cell, then the BroadcastChannel.
   */
  announce(message: Extract<ClusterMessage, { t: 'subs' }>): void {
    if (this.#closed) return
    if (this.#links.size > 0) {
      const fast: ClusterMessage = { ...message, fast: true }
      for (const link of this.#links.values()) {
        this.#flushLink(link)
        link.port.postMessage(fast)
      }
      // A peer that reads this value finds the message above already in its port's queue
      Atomics.store(this.#cell, 0, message.seq)
    }
    this.#postQueued()
    this.#channel.postMessage(message)
  }

  /**
   * Before routing: takes the queued messages off the port of every peer that
   * posted a `subs` announcement since this port was last drained for it, so
   * the announced subscriptions are applied first (one atomic load per peer).
   * No-op while already taking messages off a port.
   */
  catchUp(): void {
    if (this.#draining) return
    const cells = this.#cells
    for (let i = 0; i < cells.length; i++) {
      const link = cells[i]!
      const seq = Atomics.load(link.cell!, 0)
      if (seq !== link.checked) {
        link.checked = seq
        this.drain(link.peer)
      }
    }
  }

  /** Handles now, in order, every message already queued on `peer`'s port. */
  drain(peer: number): void {
    const link = this.#links.get(peer)
    if (link === undefined || this.#draining) return
    this.#draining = true
    try {
      for (;;) {
        const received = receiveMessageOnPort(link.port)
        if (received === undefined) break
        this.#dispatch(link, received.message as PortMessage)
      }
    } finally {
      this.#draining = false
    }
  }

  /** Data for the workers in `to`: batched over their ports when all have one, else over the BroadcastChannel. */
  send(to: readonly number[], message: ClusterMessage): void {
    if (this.#closed) return
    for (const peer of to) {
      if (!this.#links.has(peer)) {
        this.#postQueued()
        this.#channel.postMessage(message)
        return
      }
    }
    for (const peer of to) {
      const link = this.#links.get(peer)!
      link.outbox.push(message)
      if (link.outbox.count >= this.#maxBatch || link.outbox.bytes >= MAX_BATCH_BYTES) this.#flushLink(link)
    }
    this.#scheduleFlush()
  }

  readonly #flush = (): void => {
    this.#flushScheduled = false
    this.#postQueued()
    for (const link of this.#links.values()) this.#flushLink(link)
  }

  #flushLink(link: Link): void {
    if (link.outbox.count === 0) return
    const batch = link.outbox.take()
    link.port.postMessage(batch, [batch.b])
  }

  close(): void {
    this.#flush()
    this.#closed = true
    process.off('workerMessage', this.#onWorkerMessage)
    this.#channel.close()
    const links = [...this.#links.values()]
    this.#links.clear()
    this.#cells = []
    for (const link of links) link.port.close()
  }
}
