/**
 * One client's session on the server side: its subscriptions and its outbound
 * message state (in-flight QoS 1/2 messages by packet id, the queue behind
 * the in-flight window, outbound topic aliases). A session outlives its
 * connections when it is persistent; `attach` binds it to a live link.
 */
import type { Packet } from 'mqtt-packet'
import { fitsPacketSize } from '../connection/packet-size.ts'
import { ReasonCode } from '../mqtt/reason-codes.ts'
import type { BrokerMessage, QoS } from './message.ts'
import { isExpired, toPublishPacket } from './message.ts'
import { PacketIdAllocator } from './packet-ids.ts'

/** The live connection a session delivers to. */
export interface SessionLink {
  send(packet: Packet): Promise<boolean>
  readonly protocolVersion: number
  /** Unacknowledged QoS 1/2 messages allowed: min(client Receive Maximum, broker cap) [5.0 MQTT-3.3.4-9]. */
  readonly receiveMaximum: number
  /** Highest outbound topic alias the client accepts; 0 = none [5.0 MQTT-3.1.2-27]. */
  readonly topicAliasMaximum: number
  /** The client's Maximum Packet Size, when it set one [5.0 MQTT-3.1.2-24]. */
  readonly maximumPacketSize: number | undefined
  /** Topics the client may receive (handlers/read-filter.ts); every topic when absent. */
  readonly mayRead?: ((topic: string) => boolean) | undefined
}

/** Options of one subscription, as granted. */
export interface Subscription {
  qos: QoS
  /** No Local (v5). */
  nl: boolean
  /** Retain As Published (v5). */
  rap: boolean
  /** Retain Handling (v5): 0 send, 1 send if new, 2 never. */
  rh: number
  subscriptionId: number | undefined
}

/**
 * The JetStream acknowledgement of a message read from the cluster stream
 * (nats-bridge.ts), withheld while a persistent session still holds the
 * message: when the node dies first, the message is still pending in its
 * consumer, and the node that adopts that consumer delivers it again.
 * Without a cluster, a share group message's way back to its group
 * (router.ts): there is nothing to acknowledge, only `giveBack`.
 */
export interface AckHold {
  /** Holders left: each persistent session that took it, and the reader while it delivers. */
  count: number
  /**
   * Held by a session without expiry too: a share group's message, which goes to another member
   * when the worker dies (a plain subscription's would have nobody left to go to).
   */
  always?: boolean
  release(): void
  /**
   * A share group's message: hands it back to the group, for another member, instead of
   * releasing it (the holding member's session ended before its client acknowledged it).
   */
  giveBack?(): void
}

/**
 * Where the worker that gave a session up to another node stood in the
 * cluster stream (nats-bridge.ts): what it had delivered to the session, so
 * the new holder delivers from the stream exactly what it had not.
 */
export interface StreamMark {
  /** The last stream sequence the old worker's consumer had handled. */
  seq: number
  /** The old worker's node, link (its NATS connection) and worker id. */
  node: string
  link: string
  worker: number
  /** Per link of the old node, the highest message number its worker had routed locally (its own node's messages). */
  cut: [string, number][]
}

/**
 * What a session held back while it catches up does with a delivery: `skip`
 * it (the session has it already), `park` it (it goes after what the catching
 * up still brings), or let it `pass`.
 */
export type Intake = (delivery: Delivery) => 'skip' | 'park' | 'pass'

/** A message waiting for, or holding, a packet id. */
export interface Delivery {
  message: BrokerMessage
  qos: QoS
  retain: boolean
  subscriptionIds: number[] | undefined
  /** Its order in a persistent session (the store's key); set when the session journals it. */
  seq?: number
  /** Set by the caller for a stream or share group message; kept only by a persistent session (or `always`), until the message leaves it. */
  hold?: AckHold | undefined
  /** It may have been sent before (a dead node's message delivered again): its first PUBLISH carries DUP. */
  dup?: boolean | undefined
}

/** The session is done with `delivery`: one holder fewer on its stream acknowledgement. */
function letGo(delivery: Delivery | undefined): void {
  const hold = delivery?.hold
  if (hold === undefined) return
  delivery!.hold = undefined
  if (--hold.count === 0) hold.release()
}

/**
 * The session ended holding `delivery`, unacknowledged. A share group's QoS 1 message goes back to
 * the group, for another member [5.0 §4.8.2]; so does one never sent (`sent` false). A QoS 2
 * message sent to the member must not go to any other [5.0 MQTT-4.8.2-5]: it is let go.
 */
function giveBack(delivery: Delivery | undefined, sent: boolean): void {
  const hold = delivery?.hold
  if (hold?.giveBack === undefined || (sent && delivery!.qos === 2)) {
    letGo(delivery)
    return
  }
  delivery!.hold = undefined
  if (--hold.count === 0) hold.giveBack()
}

/**
 * Where a persistent session records its state as it changes (the broker's
 * store, see store/types.ts); a session without one lives in memory only.
 */
export interface SessionJournal {
  subscribed(filter: string, sub: Subscription): void
  unsubscribed(filter: string): void
  /** A QoS 1/2 message for the session (sent or queued: its packet id follows with `changed`). */
  added(delivery: Delivery & { seq: number }): void
  /** A queued message got its packet id, or its PUBREC came (pubrel). */
  changed(seq: number, packetId: number, state: 'publish' | 'pubrel'): void
  removed(seq: number): void
  cleared(): void
  /** A QoS 2 message from the client was accepted: its packet id awaits PUBREL. */
  inboundReceived(packetId: number): void
  /** Its PUBREL came: the id is free again. */
  inboundReleased(packetId: number): void
  /** The session stopped journaling here (it left this worker, ended, or stopped being persistent). */
  detached(): void
}

interface InFlight extends Delivery {
  /** 'publish': waiting for PUBACK/PUBREC; 'pubrel': PUBREL sent, waiting for PUBCOMP. */
  state: 'publish' | 'pubrel'
}

export type DropReason = 'queue_full' | 'slow_consumer' | 'expired' | 'packet_too_large' | 'client_offline'

export interface SessionLimits {
  maxQueuedMessages: number
  maxPendingWrites: number
  /**
   * Queue length at which an online session becomes congested: publishes that
   * reach it wait for relief before they are acknowledged (see backpressure.ts).
   * Undefined or 0: never congested.
   */
  highWater?: number
  /** Queue length at or below which a congested session is relieved. */
  lowWater?: number
  /** A congested session without any acknowledgement for this long is stalled: it stops holding publishers back. */
  stallMs?: number
  /** Called when the session becomes congested or is relieved. */
  onCongestion?: (session: Session, congested: boolean) => void
}

/** What a session's state looks like when it moves to another worker. */
export interface SessionSnapshot {
  clientId: string
  expiryInterval: number
  subscriptions: [string, Subscription][]
  inflight: [number, InFlight][]
  queue: Delivery[]
  /** QoS 2 ids from the client awaiting PUBREL, when there are any. */
  inbound?: number[]
  /** Set when it moves between nodes: where the old worker stood in the cluster stream. */
  stream?: StreamMark
}

const NO_SUBSCRIPTIONS: ReadonlyMap<string, Subscription> = new Map()
const NO_INFLIGHT: ReadonlyMap<number, InFlight> = new Map()
const NO_ALIASES: ReadonlyMap<string, number> = new Map()

export class Session {
  readonly clientId: string
  /** Seconds the session outlives its connection; 0xFFFFFFFF never expires. */
  expiryInterval: number
  /** Raw filter (including any `$share/group/` prefix) → options; made at the first subscription. */
  #subscriptions: Map<string, Subscription> | undefined
  readonly #limits: SessionLimits
  readonly #onDrop: (reason: DropReason) => void
  readonly #ids = new PacketIdAllocator()
  // Shared empty maps until the first entry: a Map costs about 0.2 KB empty, and most sessions of an
  // idle server have nothing in flight and no aliases (ReadonlyMap: a write must go through a real map)
  #inflight: ReadonlyMap<number, InFlight> = NO_INFLIGHT
  #queue: Delivery[] = []
  #queueHead = 0
  #link: SessionLink | undefined
  /** The last link's read filter: it keeps applying while the session is offline. */
  #mayRead: ((topic: string) => boolean) | undefined
  #aliases: ReadonlyMap<string, number> = NO_ALIASES
  #pendingWrites = 0
  #congested = false
  /** Stalled: congested without progress for stallMs; it presses no one until it drained to low water. */
  #stalled = false
  #progressAt = 0
  #stallTimer: NodeJS.Timeout | undefined
  /** One promise per congestion episode, shared by every publish it holds back (see whenRelieved). */
  #relief: { promise: Promise<void>; resolve: () => void } | undefined
  #journal: SessionJournal | undefined
  #nextSeq = 1
  /** QoS 2 packet ids from the client whose PUBREC was sent and whose PUBREL has not come. */
  #inbound: Set<number> | undefined
  /** While it catches up after a move between nodes: what decides about each delivery, and what it parked. */
  #intake: Intake | undefined
  #parked: Delivery[] | undefined
  /** The largest in-flight window a connection of this session had (see {@link window}). */
  #window = 0

  constructor(
    clientId: string,
    expiryInterval: number,
    limits: SessionLimits,
    onDrop: (reason: DropReason) => void,
  ) {
    this.clientId = clientId
    this.expiryInterval = expiryInterval
    this.#limits = limits
    this.#onDrop = onDrop
  }

  /**
   * Raw filter (including any `$share/group/` prefix) → options. Read-only: a Map costs about
   * 0.3 KB empty and most sessions of an idle server subscribe to nothing, so it is made by the
   * first {@link setSubscription} and dropped with the last {@link deleteSubscription}.
   */
  get subscriptions(): ReadonlyMap<string, Subscription> {
    return this.#subscriptions ?? NO_SUBSCRIPTIONS
  }

  /** Adds or replaces the subscription whose filter is exactly `raw`. */
  setSubscription(raw: string, sub: Subscription): void {
    this.#subscriptions ??= new Map()
    this.#subscriptions.set(raw, sub)
  }

  /** Deletes the subscription whose filter is exactly `raw`; false when there was none. */
  deleteSubscription(raw: string): boolean {
    const subscriptions = this.#subscriptions
    if (subscriptions === undefined || !subscriptions.delete(raw)) return false
    if (subscriptions.size === 0) this.#subscriptions = undefined
    return true
  }

  /** The session's journal while it is persistent (expiry interval above 0). */
  get journal(): SessionJournal | undefined {
    return this.#journal
  }

  set journal(journal: SessionJournal | undefined) {
    if (this.#journal !== journal) this.#journal?.detached()
    this.#journal = journal
  }

  /**
   * The client's QoS 2 packet ids awaiting PUBREL: part of the server's session
   * state (§4.1 of both specifications), so a re-sent PUBLISH on a later
   * connection (or after a restart, from the store) is not delivered twice.
   */
  get awaitingRelease(): ReadonlySet<number> | undefined {
    return this.#inbound
  }

  /** A QoS 2 PUBLISH from the client was accepted (PUBREC follows): its id awaits PUBREL. */
  received(messageId: number): void {
    this.#inbound ??= new Set()
    this.#inbound.add(messageId)
    this.#journal?.inboundReceived(messageId)
  }

  /** PUBREL from the client; false when the id was not awaiting it. */
  released(messageId: number): boolean {
    if (this.#inbound?.delete(messageId) !== true) return false
    this.#journal?.inboundReleased(messageId)
    return true
  }

  get online(): boolean {
    return this.#link !== undefined
  }

  get inflightCount(): number {
    return this.#inflight.size
  }

  /**
   * The most QoS 1/2 messages this session may have sent and not had acknowledged at once: the
   * largest Receive Maximum (capped) of its connections, or what it brought in flight from
   * elsewhere. Its oldest unacknowledged messages up to this many may have been sent before,
   * the rest were only queued (nats-bridge.ts: the DUP flag after its node's death).
   */
  get window(): number {
    return Math.max(this.#window, this.#inflight.size)
  }

  /** A connection with this in-flight window binds to the session, or it may have had one that large elsewhere. */
  widen(window: number): void {
    if (window > this.#window) this.#window = window
  }

  get queuedCount(): number {
    return this.#queue.length - this.#queueHead
  }

  /**
   * Binds the session to a live connection and resends what was unacknowledged,
   * PUBLISH with DUP and PUBREL, with their original packet ids [3.1.1 MQTT-4.4.0-1] [5.0 MQTT-4.4.0-1] [3.1.1 MQTT-3.3.1-1] [5.0 MQTT-3.3.1-1].
   */
  attach(link: SessionLink): void {
    this.#link = link
    this.#mayRead = link.mayRead
    this.#aliases = NO_ALIASES
    this.#pendingWrites = 0
    // A copy: a resend discarded as too large pumps the queue, which adds entries to the map
    for (const [id, entry] of [...this.#inflight]) {
      if (entry.state === 'pubrel') this.#write({ cmd: 'pubrel', messageId: id })
      else this.#sendPublish(id, entry, true)
    }
    this.#pump()
  }

  /** The connection went away: keep the state, stop sending. */
  detach(): void {
    this.#link = undefined
    // Offline sessions hold no publisher back: their queue is capped and drops are counted
    this.#stalled = false
    this.#setCongested(false)
  }

  /**
   * Whether publishes that reach this session should wait before they are
   * acknowledged: it is online, its queue reached the high-water mark, and it
   * still acknowledges (not stalled).
   */
  get congested(): boolean {
    return this.#congested
  }

  /** Resolves once the queue is at the low-water mark, or the session went offline, stalled or ended. */
  whenRelieved(): Promise<void> {
    if (!this.#congested) return Promise.resolve()
    // A congested subscriber holds back every publish that reaches it: one promise for all of them
    this.#relief ??= Promise.withResolvers<void>()
    return this.#relief.promise
  }

  #setCongested(on: boolean): void {
    if (this.#congested === on) return
    this.#congested = on
    if (on) {
      this.#progressAt = Date.now()
      this.#armStallTimer(this.#limits.stallMs ?? 0)
    } else {
      clearTimeout(this.#stallTimer)
      this.#stallTimer = undefined
      const relief = this.#relief
      this.#relief = undefined
      relief?.resolve()
    }
    this.#limits.onCongestion?.(this, on)
  }

  #armStallTimer(ms: number): void {
    if (ms <= 0) return
    this.#stallTimer = setTimeout(() => {
      const idle = Date.now() - this.#progressAt
      const stallMs = this.#limits.stallMs ?? 0
      if (idle < stallMs) return this.#armStallTimer(stallMs - idle)
      // No acknowledgement for stallMs: holding publishers back would only stall them too
      this.#stalled = true
      this.#setCongested(false)
    }, ms)
    this.#stallTimer.unref()
  }

  /**
   * Hands a message to this session at the QoS it gets. QoS 0 goes out now or
   * is dropped; QoS 1/2 goes out when the in-flight window has room, else waits
   * in the bounded queue [3.1.1 MQTT-3.1.2-5]. Returns false when the message was dropped.
   */
  deliver(delivery: Delivery, now: number): boolean {
    // not for this client (an ACL): not a drop
    if (this.#mayRead !== undefined && !this.#mayRead(delivery.message.topic)) return false
    if (isExpired(delivery.message, now)) return this.#drop('expired')
    if (this.#intake !== undefined) {
      const verdict = this.#intake(delivery)
      if (verdict === 'skip') return true
      if (verdict === 'park' && delivery.qos > 0) return this.#park(delivery)
    }
    const link = this.#link
    if (delivery.qos === 0) {
      if (link === undefined) return this.#drop('client_offline')
      if (this.#pendingWrites >= this.#limits.maxPendingWrites) return this.#drop('slow_consumer')
      this.#sendPublish(undefined, delivery, false)
      return true
    }
    const direct = link !== undefined && this.queuedCount === 0 && this.#inflight.size < link.receiveMaximum
    if (!direct && this.queuedCount >= this.#limits.maxQueuedMessages) return this.#drop('queue_full')
    let entry = delivery
    if (this.#journal !== undefined) {
      const stored: Delivery & { seq: number } = {
        message: delivery.message,
        qos: delivery.qos,
        retain: delivery.retain,
        subscriptionIds: delivery.subscriptionIds,
        seq: this.#nextSeq++,
      }
      this.#journal.added(stored)
      entry = stored
    }
    const hold = delivery.hold
    if (hold !== undefined) {
      // a session without expiry dies with its connection or node anyway: it holds nothing back
      if (this.expiryInterval > 0 || hold.always === true) {
        hold.count++
        entry.hold = hold
      } else entry.hold = undefined
    }
    if (direct) {
      this.#sendInflight(entry)
      return true
    }
    this.#queue.push(entry)
    const high = this.#limits.highWater ?? 0
    if (high > 0 && link !== undefined && !this.#stalled && this.queuedCount >= high) this.#setCongested(true)
    return true
  }

  /**
   * Holds deliveries back while the session catches up with what another node
   * had not delivered to it (nats-bridge.ts): `intake` decides about each,
   * and the parked ones go after the catching up, in their order, at {@link resume}.
   */
  pause(intake: Intake): void {
    this.#intake = intake
    this.#parked ??= []
  }

  /** The catching up is over: the parked deliveries that `keep` says are still owed go in, in order. */
  resume(keep: (delivery: Delivery) => boolean): void {
    this.#intake = undefined
    const parked = this.#parked ?? []
    this.#parked = undefined
    const now = Date.now()
    for (const delivery of parked) {
      const hold = delivery.hold
      if (keep(delivery)) this.deliver(delivery, now)
      // the park's own count on the stream acknowledgement (deliver took its own)
      if (hold !== undefined && --hold.count === 0) hold.release()
    }
  }

  #park(delivery: Delivery): boolean {
    this.#parked ??= []
    const parked = this.#parked
    if (this.queuedCount + parked.length >= this.#limits.maxQueuedMessages) return this.#drop('queue_full')
    const hold = delivery.hold
    if (hold !== undefined) {
      if (this.expiryInterval > 0 || hold.always === true) hold.count++
      else delivery.hold = undefined
    }
    parked.push(delivery)
    return true
  }

  #drop(reason: DropReason): false {
    this.#onDrop(reason)
    return false
  }

  /** PUBACK, PUBREC or PUBCOMP from the client for a message this session sent. */
  acknowledge(cmd: 'puback' | 'pubrec' | 'pubcomp', messageId: number, reasonCode: number | undefined): void {
    const entry = this.#inflight.get(messageId)
    if (cmd === 'pubrec') {
      if (entry === undefined || entry.state === 'pubrel') {
        // v5: PUBREL 0x92 for an id we do not hold; a repeated PUBREC gets PUBREL again
        if (entry === undefined && this.#link?.protocolVersion === 5) {
          this.#write({ cmd: 'pubrel', messageId, reasonCode: ReasonCode.packetIdentifierNotFound })
        } else if (entry !== undefined) this.#write({ cmd: 'pubrel', messageId })
        return
      }
      if (reasonCode !== undefined && reasonCode >= 0x80) {
        // A PUBREC >= 0x80 acknowledges the message: never resent, id free again [5.0 MQTT-4.4.0-2]
        this.#complete(messageId)
        return
      }
      // Answer PUBREC with PUBREL and never resend that PUBLISH [3.1.1 MQTT-4.3.3-1] [5.0 MQTT-4.3.3-4] [5.0 MQTT-4.3.3-6]
      entry.state = 'pubrel'
      if (entry.seq !== undefined) this.#journal?.changed(entry.seq, messageId, 'pubrel')
      // the client holds the message now: sent again after a node's death it would be a second copy
      letGo(entry)
      this.#write({ cmd: 'pubrel', messageId })
      return
    }
    if (entry === undefined) return
    if (cmd === 'puback' && entry.state === 'publish' && entry.qos === 1) this.#complete(messageId)
    else if (cmd === 'pubcomp' && entry.state === 'pubrel') this.#complete(messageId)
  }

  #complete(messageId: number): void {
    if (this.#congested) this.#progressAt = Date.now()
    this.#forget(this.#inflight.get(messageId))
    this.#deleteInflight(messageId)
    this.#ids.release(messageId)
    this.#pump()
  }

  #pump(): void {
    const link = this.#link
    if (link === undefined) return
    const now = Date.now()
    while (this.queuedCount > 0 && this.#inflight.size < link.receiveMaximum) {
      const next = this.#queue[this.#queueHead]!
      this.#queue[this.#queueHead++] = undefined as unknown as Delivery
      if (this.#queueHead > 1024 && this.#queueHead * 2 > this.#queue.length) {
        this.#queue = this.#queue.slice(this.#queueHead)
        this.#queueHead = 0
      }
      if (isExpired(next.message, now)) {
        this.#forget(next)
        this.#onDrop('expired')
      } else this.#sendInflight(next)
    }
    if (this.queuedCount === 0 && this.#queueHead > 0) {
      this.#queue = []
      this.#queueHead = 0
    }
    if ((this.#congested || this.#stalled) && this.queuedCount <= (this.#limits.lowWater ?? 0)) {
      this.#stalled = false
      this.#setCongested(false)
    }
  }

  #sendInflight(delivery: Delivery): void {
    const id = this.#ids.allocate()
    if (id === undefined) {
      this.#queue.push(delivery)
      return
    }
    // a literal, not a spread: deliveries come with and without seq, and two shapes here made every
    // later read of an in-flight entry polymorphic
    const entry: InFlight = {
      message: delivery.message,
      qos: delivery.qos,
      retain: delivery.retain,
      subscriptionIds: delivery.subscriptionIds,
      seq: delivery.seq,
      hold: delivery.hold,
      dup: delivery.dup,
      state: 'publish',
    }
    this.#inflightMap().set(id, entry)
    if (entry.seq !== undefined) this.#journal?.changed(entry.seq, id, 'publish')
    this.#sendPublish(id, entry, false)
  }

  #sendPublish(messageId: number | undefined, delivery: Delivery, resend: boolean): void {
    const link = this.#link!
    const dup = resend || delivery.dup === true
    // The clock is read only for a message with an expiry (its remaining lifetime goes out)
    const now = delivery.message.expiresAt === undefined ? 0 : Date.now()
    let topicAlias: number | undefined
    let aliasOnly = false
    if (link.topicAliasMaximum > 0 && !dup) {
      topicAlias = this.#aliases.get(delivery.message.topic)
      aliasOnly = topicAlias !== undefined
    }
    const options = {
      qos: delivery.qos,
      retain: delivery.retain,
      messageId,
      dup,
      subscriptionIds: delivery.subscriptionIds,
      topicAlias,
      aliasOnly,
    }
    let packet = toPublishPacket(delivery.message, link.protocolVersion, options, now)
    if (!fitsPacketSize(packet, link.protocolVersion, link.maximumPacketSize)) {
      // Never send a client more than its Maximum Packet Size: discard as if delivered [5.0 MQTT-3.1.2-25]
      this.#discard(messageId)
      return
    }
    if (
      topicAlias === undefined &&
      link.topicAliasMaximum > 0 &&
      !dup &&
      this.#aliases.size < link.topicAliasMaximum
    ) {
      // Aliases only when the client allows them, within its Topic Alias Maximum [5.0 MQTT-3.1.2-26] [5.0 MQTT-3.1.2-27]
      topicAlias = this.#aliases.size + 1
      const withAlias = toPublishPacket(
        delivery.message,
        link.protocolVersion,
        { ...options, topicAlias },
        now,
      )
      if (fitsPacketSize(withAlias, link.protocolVersion, link.maximumPacketSize)) {
        if (this.#aliases === NO_ALIASES) this.#aliases = new Map()
        ;(this.#aliases as Map<string, number>).set(delivery.message.topic, topicAlias)
        packet = withAlias
      }
    }
    // The size was checked above, so a refused write means the connection is going away: the
    // in-flight entry stays and is resent on resume [3.1.1 MQTT-4.4.0-1] [5.0 MQTT-4.4.0-1]
    void this.#write(packet)
  }

  #discard(messageId: number | undefined): void {
    this.#onDrop('packet_too_large')
    if (messageId !== undefined) this.#forget(this.#inflight.get(messageId))
    if (messageId !== undefined && this.#deleteInflight(messageId)) {
      this.#ids.release(messageId)
      this.#pump()
    }
  }

  /** Counts the write as pending until the link accepted (or refused) it. */
  #write(packet: Packet): Promise<void> {
    const link = this.#link
    if (link === undefined) return Promise.resolve()
    this.#pendingWrites++
    const settle = (): void => {
      if (this.#link === link) this.#pendingWrites--
    }
    return link.send(packet).then(settle, settle)
  }

  #inflightMap(): Map<number, InFlight> {
    if (this.#inflight === NO_INFLIGHT) this.#inflight = new Map()
    return this.#inflight as Map<number, InFlight>
  }

  #deleteInflight(messageId: number): boolean {
    // the shared empty map is never written: an id in flight is in a map of this session's own
    return this.#inflight !== NO_INFLIGHT && (this.#inflight as Map<number, InFlight>).delete(messageId)
  }

  /** The message left the session: its stored copy goes too, and its stream acknowledgement may go. */
  #forget(delivery: Delivery | undefined): void {
    if (delivery?.seq !== undefined) this.#journal?.removed(delivery.seq)
    letGo(delivery)
  }

  /** Drops queued and in-flight messages (clean start, or expiry). */
  clear(): void {
    this.#journal?.cleared()
    for (const entry of this.#inflight.values()) giveBack(entry, true)
    for (let i = this.#queueHead; i < this.#queue.length; i++) giveBack(this.#queue[i], false)
    for (const delivery of this.#parked ?? []) giveBack(delivery, false)
    this.#parked = undefined
    this.#intake = undefined
    this.#inflight = NO_INFLIGHT
    this.#queue = []
    this.#queueHead = 0
    this.#stalled = false
    this.#setCongested(false)
  }

  /**
   * The session's state to move elsewhere. Its stream acknowledgements go now
   * (they cannot travel, and the new holder has the messages): a node that dies
   * between this and its client's acknowledgement loses them.
   */
  snapshot(): SessionSnapshot {
    const inflight: [number, InFlight][] = []
    for (const [id, entry] of this.#inflight) {
      letGo(entry)
      inflight.push([id, entry])
    }
    // parked while catching up after a move between nodes: they move along behind the queue
    const queue = this.#queue.slice(this.#queueHead)
    if (this.#parked !== undefined) queue.push(...this.#parked)
    this.#parked = undefined
    this.#intake = undefined
    for (const entry of queue) letGo(entry)
    return {
      clientId: this.clientId,
      expiryInterval: this.expiryInterval,
      subscriptions: [...this.subscriptions],
      inflight,
      queue,
      ...(this.#inbound === undefined || this.#inbound.size === 0 ? {} : { inbound: [...this.#inbound] }),
    }
  }

  /** Rebuilds a session moved from another worker, packet ids included. */
  static fromSnapshot(
    snapshot: SessionSnapshot,
    limits: SessionLimits,
    onDrop: (reason: DropReason) => void,
  ): Session {
    const session = new Session(snapshot.clientId, snapshot.expiryInterval, limits, onDrop)
    for (const [filter, sub] of snapshot.subscriptions) session.setSubscription(filter, sub)
    for (const [id, entry] of snapshot.inflight) {
      session.#inflightMap().set(id, entry)
      session.#ids.reserve(id)
    }
    session.#queue = snapshot.queue
    if (snapshot.inbound !== undefined && snapshot.inbound.length > 0)
      session.#inbound = new Set(snapshot.inbound)
    // Stored messages keep their seq; new ones follow them
    for (const [, entry] of snapshot.inflight)
      session.#nextSeq = Math.max(session.#nextSeq, (entry.seq ?? 0) + 1)
    for (const entry of snapshot.queue) session.#nextSeq = Math.max(session.#nextSeq, (entry.seq ?? 0) + 1)
    return session
  }
}
