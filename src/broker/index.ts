/**
 * mqttd's built-in broker, as a handler module: sessions, subscriptions,
 * routing across worker threads, retained and will messages, outbound QoS 1/2.
 * The server appends it after the user's handlers (config `broker: true`), so
 * their refusals (CONNECT, PUBLISH, SUBSCRIBE filters) stand before it runs.
 *
 * Options: see options.ts (`broker:` in the config). Design and costs:
 * docs/broker-design.md.
 */
import type { IConnectPacket, Packet } from 'mqtt-packet'
import type { ClusterConfig } from '../cluster/schema.ts'
import { currentControlServer } from '../control/control-channel.ts'
import { ackWait } from '../handlers/ack-wait.ts'
import { defineHandler } from '../handlers/define-handler.ts'
import { readFilterOf } from '../handlers/read-filter.ts'
import type {
  ConnectContext,
  Handler,
  HookContext,
  HookResult,
  ReasonResult,
  WorkerContext,
} from '../handlers/types.ts'
import { ReasonCode } from '../mqtt/reason-codes.ts'
import { parseFilter } from '../protocol/topic.ts'
import type { Held } from './backpressure.ts'
import { Broker, type ConnectOutcome } from './broker.ts'
import { idsOf } from './delivery.ts'
import {
  type BrokerLimits,
  defaultBrokerLimits,
  mayPublishTo,
  type RefusalReason,
  subscriptionQuotaProblem,
  topicProblem,
} from './limits.ts'
import { messageFromPublish } from './message.ts'
import { dropCounter, givenBackCounter, refusalCounter, registerBrokerGauges } from './metrics.ts'
import type { NatsBridge } from './nats-bridge.ts'
import type { BrokerOptions } from './options.ts'
import type { SessionLink, Subscription } from './session.ts'
import type { PersistenceOptions } from './store/store-file.ts'
import { openWorkerStore, type WorkerStore } from './store/worker-store.ts'
import { sysPublishRequest } from './sys-tree.ts'

const NEVER = 0xffffffff

/** The channel the workers of one server share: from the options, else per server instance. */
function channelName(options: BrokerOptions, worker: WorkerContext): string {
  return options.channel ?? `mqttd:${worker.instanceId}:broker`
}

/** A refusal, with its reason string only when the client did not opt out [5.0 MQTT-3.1.2-29]. */
/** One object for every such answer: read only, and the same answer lets acknowledgements share a wait. */
const NO_MATCHING_SUBSCRIBERS: HookResult = Object.freeze({ reasonCode: ReasonCode.noMatchingSubscribers })

function refuse(ctx: HookContext, reasonCode: number, reasonString: string): ReasonResult {
  const wants =
    ctx.protocolVersion === 5 && ctx.connectPacket?.properties?.requestProblemInformation !== false
  return wants ? { reasonCode, reasonString } : { reasonCode }
}

/**
 * A QoS 1/2 publish the store cannot keep (persistence.maxBytes reached, a
 * failed commit) is not acknowledged as accepted: v5 PUBACK/PUBREC 0x97, v3.1.1
 * (which has no refusal) a closed connection, so the client sends it again.
 */
function refuseUnstored(ctx: HookContext, store: WorkerStore | undefined): HookResult {
  store?.refused()
  if (ctx.protocolVersion === 5) return refuse(ctx, 0x97, 'Persistent storage full')
  ctx.close(0x97, 'Persistent storage full', 'closed-by-handler')
  return { stop: true }
}

/** A session's way to its client's connection: the hook context's `send` as a method, no closure per connection. */
class ContextLink implements SessionLink {
  readonly #ctx: HookContext
  readonly protocolVersion: number
  readonly receiveMaximum: number
  readonly topicAliasMaximum: number
  readonly maximumPacketSize: number | undefined
  readonly mayRead: ((topic: string) => boolean) | undefined

  constructor(ctx: HookContext, packet: IConnectPacket, options: BrokerOptions) {
    const v5 = ctx.protocolVersion === 5
    const props = packet.properties
    this.#ctx = ctx
    this.protocolVersion = ctx.protocolVersion
    this.receiveMaximum = Math.min(v5 ? (props?.receiveMaximum ?? 65535) : 65535, options.maxInflightMessages)
    this.topicAliasMaximum = v5 ? (props?.topicAliasMaximum ?? 0) : 0
    this.maximumPacketSize = v5 ? props?.maximumPacketSize : undefined
    this.mayRead = readFilterOf(ctx)
  }

  send(packet: Packet): Promise<boolean> {
    return this.#ctx.send(packet)
  }
}

/**
 * Unconfirmed QoS 1/2 messages one worker may have at each peer before its publishes to that peer
 * wait (backpressure.ts): what the peers may add to a congested queue beyond the high-water mark
 * stays within half the room left below maxQueuedMessages. At most a quarter of the high-water mark:
 * a congested subscriber's queue then stays near what one worker's publishers alone would fill, and
 * so its messages' wait (a full high-water mark per peer made QoS 1 fan-in from two workers wait
 * 1.6-1.9 times as long at p99 as from one; docs/broker-design.md).
 */
function publishCredit(options: BrokerOptions, workerCount: number): number {
  const high = options.queueHighWater
  if (high === 0) return 0
  const room = Math.floor((options.maxQueuedMessages - high) / (2 * Math.max(1, workerCount - 1)))
  return Math.min(Math.max(1, Math.floor(high / 4)), Math.max(16, room))
}

/** The broker's limits from the server's `limits` config, defaults for those not given. */
function brokerLimits(worker: WorkerContext): BrokerLimits {
  const given = worker.limits ?? {}
  const limits = { ...defaultBrokerLimits }
  for (const key of Object.keys(limits) as (keyof BrokerLimits)[]) {
    const value = (given as Partial<BrokerLimits>)[key]
    if (typeof value === 'number') limits[key] = value
  }
  return limits
}

const topicText: Partial<Record<RefusalReason, string>> = {
  topic_too_long: 'longer than limits.maxTopicLength',
  topic_too_deep: 'more levels than limits.maxTopicLevels',
  client_subscription_quota: 'Subscription quota of this client (limits.maxSubscriptionsPerClient) exceeded',
  server_subscription_quota: 'Subscription quota of the server (limits.maxSubscriptions) exceeded',
}

/** How long a starting worker waits for a peer's retained messages before it serves clients. */
const RETAINED_SYNC_WAIT_MS = 500

/**
 * A QoS 1/2 publish that NATS could not store for the other nodes within
 * cluster.publishTimeoutMs is not acknowledged as accepted: v5 0x80, v3.1.1
 * (no refusal) a closed connection, so the client sends it again.
 */
function refuseUnexported(ctx: HookContext): HookResult {
  if (ctx.protocolVersion === 5) return refuse(ctx, ReasonCode.unspecifiedError, 'Cluster unavailable')
  ctx.close(ReasonCode.unspecifiedError, 'Cluster unavailable', 'closed-by-handler')
  return { stop: true }
}

/** Builds the broker for one worker thread. */
export async function createBrokerHandler(
  rawOptions: Record<string, unknown>,
  worker: WorkerContext,
): Promise<Handler> {
  // `persistence` is the server's top-level section, passed in by handler-specs.ts (not a broker option)
  // `cluster` likewise (with the config's directory, for its TLS files)
  // `optionsResolved`: the server's main thread validated the options already (handler-specs.ts)
  const { persistence, cluster, optionsResolved, ...brokerOptions } = rawOptions as {
    persistence?: PersistenceOptions | false
    cluster?: ClusterConfig & { baseDir: string }
    optionsResolved?: boolean
  }
  // The validator loads the schema library, ~2 MB of heap in every worker that would never use it
  // again: a worker of the server gets resolved options; the broker listed by hand validates them.
  const options =
    optionsResolved === true
      ? (brokerOptions as BrokerOptions)
      : (await import('./options.ts')).parseBrokerOptions(brokerOptions)
  const drop = dropCounter(worker.metrics)
  const refused = refusalCounter(worker.metrics)
  const limits = brokerLimits(worker)
  const reserved = options.allowReservedPublish
  const store =
    persistence === undefined || persistence === false
      ? undefined
      : openWorkerStore(persistence, `${worker.instanceId}:${worker.workerId}`, worker.metrics, (err) =>
          worker.log.error({ err }, 'broker: persistent store commit failed'),
        )
  /**
   * The acknowledgement of a publish that waits for the group commit alone, shared by the
   * connection's publishes of the same group with the same answer: consecutive QoS 1 publishes of
   * one client (its window, read in one chunk) get one promise instead of three reactions each.
   * A failed commit refuses them all (counted once per message).
   */
  let shared:
    | {
        ctx: HookContext
        committed: Promise<boolean>
        result: HookResult
        count: number
        ack: Promise<HookResult>
      }
    | undefined
  const groupAck = (
    ctx: HookContext,
    committed: Promise<boolean>,
    result: HookResult,
  ): Promise<HookResult> => {
    if (
      shared !== undefined &&
      shared.ctx === ctx &&
      shared.committed === committed &&
      shared.result === result
    ) {
      shared.count++
      return shared.ack
    }
    const entry = { ctx, committed, result, count: 1, ack: undefined as unknown as Promise<HookResult> }
    entry.ack = ackWait(
      committed.then((ok) => {
        if (shared === entry) shared = undefined
        if (ok !== false) return result
        for (let i = 1; i < entry.count; i++) store?.refused()
        return refuseUnstored(ctx, store)
      }),
    )
    shared = entry
    return entry.ack
  }
  const broker = new Broker({
    store: store?.store,
    waitForCommit: persistence !== undefined && persistence !== false && persistence.sync !== 'off',
    workerId: worker.workerId,
    publishCredit: publishCredit(options, worker.workerCount),
    channel: channelName(options, worker),
    options,
    drop,
    givenBack: givenBackCounter(worker.metrics),
    onError: (err, where) => worker.log.error({ err }, `broker: ${where} failed`),
  })
  // The main thread's `$SYS` updates (src/main/sys-publisher.ts) come to one worker, which publishes them
  // like any retained message: every worker stores them, subscribers anywhere get them
  currentControlServer()?.handle(sysPublishRequest, ({ messages }) => {
    for (const [topic, text] of messages) {
      broker.router.publish({
        topic,
        payload: Buffer.from(text),
        qos: 0,
        retain: true,
        properties: undefined,
        expiresAt: undefined,
        origin: '',
      })
    }
    return messages.length
  })
  registerBrokerGauges(worker.metrics, {
    sessions: () => broker.sessionStats(),
    subscriptions: () => broker.router.index.size,
    retained: () => ({ messages: broker.router.retained.size, bytes: broker.router.retained.bytes }),
  })
  // Retained messages, and the sessions of a previous run (any worker of this instance takes them once)
  broker.loadStored(`${worker.instanceId}:`, (owner) => !owner.startsWith(`${worker.instanceId}:`))
  if (worker.workerCount > 1) {
    // A worker started next to running ones (e.g. a respawn) serves clients once it holds the retained
    // messages; at a cold start nobody has any and the wait just ends
    let timer: NodeJS.Timeout | undefined
    const timeout = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, RETAINED_SYNC_WAIT_MS)
    })
    await Promise.race([broker.retainedSynced, timeout])
    clearTimeout(timer)
  }
  // In a cluster: this worker's own NATS connection (nats-bridge.ts); start-up fails when NATS is not there.
  // Imported only then: the NATS client is ~2.4 MB of heap per thread that a single node never uses
  const bridge =
    cluster === undefined
      ? undefined
      : await (await import('./nats-bridge.ts')).NatsBridge.start({
          config: cluster,
          baseDir: cluster.baseDir,
          workerId: worker.workerId,
          router: broker.router,
          log: worker.log,
          metrics: worker.metrics,
          drop,
          giveUp: (clientId, resume) => broker.giveUpToNode(clientId, resume),
          adopt: (snapshot) => broker.adoptFromNode(snapshot),
          session: (clientId) => broker.session(clientId),
        })
  if (bridge !== undefined) broker.router.setRemote(bridge)
  // Which subscriptions of a SUBSCRIBE existed before it, for Retain Handling 1 [5.0 MQTT-3.3.1-10]
  const existedBefore = new WeakMap<object, boolean[]>()

  /** A cluster node claims the session from the node that held it, then binds it here. */
  async function fromNode(
    bridge: NatsBridge,
    ctx: ConnectContext,
    packet: IConnectPacket,
    clean: boolean,
    expiry: number,
  ): Promise<HookResult> {
    const snapshot = await bridge.claim(ctx.clientId, !clean)
    if (snapshot !== undefined) broker.installFromNode(snapshot)
    // same turn: the session catches up from where the old node's worker stood in the stream
    bridge.arrived(ctx.clientId)
    return connected(ctx, await broker.connect(ctx, packet, new ContextLink(ctx, packet, options), expiry))
  }

  /** The CONNACK's part of a bound (or refused) session. */
  function connected(ctx: ConnectContext, present: ConnectOutcome): HookResult {
    if (present === 'closed') return { stop: true }
    const held = broker.session(ctx.clientId)
    if (bridge !== undefined && typeof present === 'boolean' && held !== undefined)
      bridge.remember(held, true)
    if (present === 'full')
      return refuse(ctx, ReasonCode.quotaExceeded, 'Session quota exceeded on this worker')
    if (present === 'store-full') {
      store?.refused()
      return refuse(ctx, ReasonCode.quotaExceeded, 'Persistent storage full')
    }
    // Session Present: 1 only when a session was resumed [3.1.1 MQTT-3.2.2-1] [5.0 MQTT-3.2.2-1] [3.1.1 MQTT-3.2.2-2] [5.0 MQTT-3.2.2-2] [3.1.1 MQTT-3.2.2-3] [5.0 MQTT-3.2.2-3]
    ctx.connack.sessionPresent = present
    // QoS 2 ids the resumed session still awaits PUBREL for (from an earlier connection, or the store)
    const awaiting = present ? broker.binding(ctx)?.session.awaitingRelease : undefined
    if (awaiting !== undefined) for (const id of awaiting) ctx.awaitingRelease.add(id)
    if (ctx.protocolVersion !== 5) return undefined
    // Server Keep Alive and the assigned client id are the framework's (limits.maxKeepaliveSeconds)
    const props = ctx.connack.properties
    if (options.maxQos < 2) props.maximumQoS = options.maxQos
    if (!options.retainAvailable) props.retainAvailable = false
    return undefined
  }

  return {
    name: 'broker',

    // Not async: a connect that needs no hand-over from another worker or node, and no commit, is
    // decided at once, without the chain's hook timer and promises per connection
    onConnect(ctx, packet): HookResult | Promise<HookResult> {
      const v5 = ctx.protocolVersion === 5
      const will = packet.will
      if (will !== undefined) {
        if ((will.qos ?? 0) > options.maxQos)
          return refuse(ctx, ReasonCode.qosNotSupported, 'Will QoS not supported')
        if (will.retain === true && !options.retainAvailable)
          return refuse(ctx, ReasonCode.retainNotSupported, 'Retain not supported')
        const problem = topicProblem(will.topic, limits)
        if (problem !== undefined) {
          refused('will', problem)
          return refuse(ctx, ReasonCode.topicNameInvalid, `Will topic ${topicText[problem]}`)
        }
        // A will is a publish by the client too: it may not reach a `$` topic a PUBLISH could not
        if (!mayPublishTo(will.topic, will, reserved)) {
          refused('will', 'reserved_topic')
          return refuse(
            ctx,
            ReasonCode.notAuthorized,
            'Will topics beginning with $ are reserved for the server',
          )
        }
      }
      const clean = packet.clean ?? true
      let expiry = v5 ? (packet.properties?.sessionExpiryInterval ?? 0) : clean ? 0 : NEVER
      if (expiry > options.maxSessionExpiryInterval) {
        expiry = options.maxSessionExpiryInterval
        if (v5) ctx.connack.properties.sessionExpiryInterval = expiry
      }
      // In a cluster: the node that held the session hands it over (its connection gets 0x8E)
      if (bridge !== undefined && broker.session(ctx.clientId) === undefined)
        return fromNode(bridge, ctx, packet, clean, expiry)
      const present = broker.connect(ctx, packet, new ContextLink(ctx, packet, options), expiry)
      return typeof present === 'object' ? present.then((p) => connected(ctx, p)) : connected(ctx, present)
    },

    onConnected(ctx) {
      broker.connected(ctx)
    },

    // Not async: most publishes are decided at once, without a promise (and the chain's hook timer) per message
    onPublish(ctx, packet): HookResult | Promise<HookResult> {
      if (packet.qos > options.maxQos) {
        ctx.close(ReasonCode.qosNotSupported, 'QoS not supported', 'protocol-error')
        return refuse(ctx, ReasonCode.qosNotSupported, 'QoS not supported')
      }
      if (packet.retain && !options.retainAvailable) {
        ctx.close(ReasonCode.retainNotSupported, 'Retain not supported', 'protocol-error')
        return refuse(ctx, ReasonCode.retainNotSupported, 'Retain not supported')
      }
      const problem = topicProblem(packet.topic, limits)
      if (problem !== undefined) {
        // v5: PUBACK/PUBREC 0x90 "not accepted by this Server"; 3.1.1 has no refusal code: the
        // framework acknowledges as usual and drops it [3.1.1 MQTT-3.3.5-2]
        refused('publish', problem)
        return refuse(ctx, ReasonCode.topicNameInvalid, `Topic name ${topicText[problem]}`)
      }
      // `$` topics are the server's [5.0 MQTT-4.7.2-1]: v5 0x87; 3.1.1 acknowledged and dropped [3.1.1 MQTT-3.3.5-2]
      if (!mayPublishTo(packet.topic, packet, reserved)) {
        refused('publish', 'reserved_topic')
        return refuse(ctx, ReasonCode.notAuthorized, 'Topics beginning with $ are reserved for the server')
      }
      // Nothing is acknowledged that the store cannot keep: beyond persistence.maxBytes QoS 1/2 is refused
      if (packet.qos > 0 && broker.storeFull) return refuseUnstored(ctx, store)
      const held: Held | undefined = packet.qos > 0 ? { sessions: [] } : undefined
      const delivered = broker.router.publish(messageFromPublish(packet, ctx.clientId, Date.now()), held)
      // in a cluster other nodes may have subscribers: this node cannot say there are none
      const result: HookResult =
        delivered === 0 && packet.qos > 0 && ctx.protocolVersion === 5 && bridge === undefined
          ? NO_MATCHING_SUBSCRIBERS
          : undefined
      // A persistent session keeps the id until PUBREL, committed with the message before PUBREC, so a
      // re-send after a reconnect or a crash is not delivered again [3.1.1 MQTT-4.3.3-2] [5.0 MQTT-4.3.3-10]
      const publisher = packet.qos === 2 ? broker.binding(ctx) : undefined
      const inbound =
        publisher !== undefined && !publisher.detached && publisher.session.expiryInterval > 0
          ? publisher.session
          : undefined
      inbound?.received(packet.messageId!)
      const waits: Promise<unknown>[] = []
      // Held back by congested subscribers: the publisher is read no further until relieved
      let throttled = false
      // PUBACK / PUBREC once what the message added to sessions here and on other workers is committed
      const committed = packet.qos > 0 ? broker.durable() : undefined
      if (committed !== undefined) waits.push(committed)
      // A QoS 1/2 retained message is acknowledged once every worker stored it
      if (packet.retain && packet.qos > 0) waits.push(broker.router.confirm(options.clusterTimeoutMs, true))
      // Backpressure: acknowledged once the congested subscribers it reached are relieved
      if (held !== undefined && (held.sessions.length > 0 || held.remote !== undefined)) {
        // Never on the publisher's own session: its PUBACKs wait behind this publish, so it could only stall
        const own = broker.binding(ctx)?.session
        if (own?.congested) held.sessions = held.sessions.filter((s) => s !== own)
        if (held.sessions.length > 0 || held.remote !== undefined) {
          waits.push(broker.router.pressure.wait(held, store === undefined))
          // congested subscribers here, or a peer beyond its credit; a peer's commit alone does not throttle
          throttled = held.sessions.length > 0 || held.overCredit === true
        }
      }
      // In a cluster: acknowledged once NATS stored it for the other nodes
      const exported = held?.exported
      if (exported !== undefined) waits.push(exported)
      if (waits.length === 0) return result
      const answer = (): Promise<HookResult> | HookResult =>
        exported === undefined
          ? result
          : exported.then((ok) => {
              if (ok) return result
              // Not acknowledged as received: a re-send is a new message
              inbound?.released(packet.messageId!)
              return refuseUnexported(ctx)
            })
      if (
        waits.length === 1 &&
        committed !== undefined &&
        exported === undefined &&
        inbound === undefined &&
        held?.remote === undefined
      ) {
        // The common case with a store: the acknowledgement waits for the group commit alone. A
        // connection's publishes of one turn share one commit, one answer and one wait: the chain
        // and the connection's ordered acknowledgements react once for them all (not per message)
        return groupAck(ctx, committed, result)
      }
      const acknowledged =
        store === undefined
          ? Promise.all(waits).then(answer)
          : // waits for the group commit and something else
            (waits.length === 1 && committed !== undefined
              ? committed
              : Promise.all([committed, ...waits]).then(([ok]) => ok)
            ).then((ok) => {
              if (ok !== false && held?.remote?.failed !== true) return answer()
              // Not acknowledged as received: a re-send is a new message
              inbound?.released(packet.messageId!)
              return refuseUnstored(ctx, store)
            })
      // Routed above: unless throttled, only the acknowledgement waits and the connection reads on (ack-wait.ts)
      return throttled ? acknowledged : ackWait(acknowledged)
    },

    async onSubscribe(ctx, packet, granted): Promise<HookResult> {
      const binding = broker.binding(ctx)
      // A connection taken over no longer owns the session (it may live on another worker by now)
      if (binding === undefined || binding.detached) return undefined
      const v5 = ctx.protocolVersion === 5
      const id = packet.properties?.subscriptionIdentifier
      const subscriptionId = typeof id === 'number' ? id : undefined
      const existed: boolean[] = []
      let problemText: string | undefined
      for (let i = 0; i < packet.subscriptions.length; i++) {
        const s = packet.subscriptions[i]!
        existed.push(false)
        // A refusal stands: an earlier handler's, or the framework's for an invalid filter (src/protocol)
        if (granted[i]! >= 0x80) continue
        const parsed = parseFilter(s.topic)
        // a handler cleared the framework's refusal of an invalid filter: it still cannot be routed
        if (parsed === undefined) {
          granted[i] = v5 ? ReasonCode.topicFilterInvalid : 0x80
          continue
        }
        const problem = topicProblem(s.topic, limits)
        if (problem !== undefined) {
          // 0x8F: "correctly formed but not accepted by this Server"; 3.1.1's one failure code 0x80
          granted[i] = v5 ? ReasonCode.topicFilterInvalid : 0x80
          refused('subscribe', problem)
          problemText = `Topic filter ${topicText[problem]}`
          continue
        }
        if (!binding.session.subscriptions.has(s.topic)) {
          const counts = { local: broker.router.index.size, remote: broker.router.table.size }
          const quota = subscriptionQuotaProblem(binding.session.subscriptions.size, counts, limits)
          if (quota !== undefined) {
            // 0x97 Quota exceeded (v5); 3.1.1 0x80 [3.1.1 MQTT-3.9.3-2]
            granted[i] = v5 ? ReasonCode.quotaExceeded : 0x80
            refused('subscribe', quota)
            problemText = topicText[quota]
            continue
          }
        }
        const qos = Math.min(granted[i]!, options.maxQos) as 0 | 1 | 2
        granted[i] = qos
        const sub: Subscription = {
          qos,
          nl: v5 && s.nl === true,
          rap: v5 && s.rap === true,
          rh: v5 ? (s.rh ?? 0) : 0,
          subscriptionId,
        }
        // A persistent session's new subscription beyond persistence.maxBytes is refused
        if (binding.session.journal !== undefined && broker.storeFull) {
          granted[i] = v5 ? 0x97 : 0x80
          store?.refused()
          continue
        }
        existed[i] = broker.subscribe(binding.session, s.topic, parsed, sub)
      }
      existedBefore.set(packet, existed)
      bridge?.remember(binding.session)
      // SUBACK only once every worker routes to the new subscriptions, and they are committed
      const committed = broker.durable()
      await broker.router.confirm(options.clusterTimeoutMs)
      if (bridge !== undefined) {
        // SUBACK means routed on every node, and the retained messages acknowledged anywhere are here
        await bridge.settled()
        await bridge.retainedBarrier()
      }
      if ((await committed) === false) {
        for (let i = 0; i < granted.length; i++) if (granted[i]! < 0x80) granted[i] = v5 ? 0x97 : 0x80
        store?.refused()
      }
      // A reason string for the refused filters, when the client accepts one [5.0 MQTT-3.1.2-29]; 0x00 keeps the codes set per filter
      if (problemText === undefined) return undefined
      const answer = refuse(ctx, ReasonCode.success, problemText)
      return answer.reasonString === undefined ? undefined : answer
    },

    onSubscribed(ctx, packet, granted) {
      const binding = broker.binding(ctx)
      if (binding === undefined || binding.detached) return
      const existed = existedBefore.get(packet) ?? []
      const now = Date.now()
      for (let i = 0; i < packet.subscriptions.length; i++) {
        if (granted[i]! >= 0x80) continue
        const raw = packet.subscriptions[i]!.topic
        const parsed = parseFilter(raw)
        const sub = binding.session.subscriptions.get(raw)
        // Retained messages are not sent for shared subscriptions (MQTT 5 §4.8.2)
        if (parsed === undefined || parsed.group !== undefined || sub === undefined) continue
        // Retain Handling: 0 always [5.0 MQTT-3.3.1-9], 1 only for a new subscription [5.0 MQTT-3.3.1-10], 2 never [5.0 MQTT-3.3.1-11]
        if (sub.rh === 2 || (sub.rh === 1 && existed[i] === true)) continue
        for (const message of broker.router.retained.match(parsed.filter, now)) {
          // Sent because of a new subscription: RETAIN 1 [3.1.1 MQTT-3.3.1-6] [3.1.1 MQTT-3.3.1-8]
          binding.session.deliver(
            {
              message,
              qos: Math.min(message.qos, sub.qos) as 0 | 1 | 2,
              retain: true,
              subscriptionIds: idsOf(sub),
            },
            now,
          )
        }
      }
    },

    onUnsubscribe(ctx, packet, reasonCodes): HookResult {
      const binding = broker.binding(ctx)
      // A connection taken over no longer owns the session (it may live on another worker by now)
      if (binding === undefined || binding.detached) return undefined
      const v5 = ctx.protocolVersion === 5
      for (let i = 0; i < packet.unsubscriptions.length; i++) {
        if (reasonCodes[i]! >= 0x80) continue
        const raw = packet.unsubscriptions[i]!
        if (parseFilter(raw) === undefined) {
          if (v5) reasonCodes[i] = ReasonCode.topicFilterInvalid
        } else if (!broker.unsubscribe(binding.session, raw) && v5)
          reasonCodes[i] = ReasonCode.noSubscriptionExisted
      }
      bridge?.remember(binding.session)
      return undefined
    },

    onAck(ctx, packet) {
      const binding = broker.binding(ctx)
      if (binding === undefined || binding.detached) return
      const reasonCode = (packet as { reasonCode?: number }).reasonCode
      binding.session.acknowledge(packet.cmd, packet.messageId!, reasonCode)
    },

    onRelease(ctx, packet) {
      const binding = broker.binding(ctx)
      if (binding === undefined || binding.detached) return undefined
      if (!binding.session.released(packet.messageId!)) return undefined
      // PUBCOMP once the release is committed: the client may reuse the id after it
      const committed = binding.session.journal === undefined ? undefined : broker.durable()
      if (committed === undefined) return undefined
      return committed.then((ok) => {
        if (ok) return
        // Not committed: no PUBCOMP, the client sends PUBREL again on its next connection
        store?.refused()
        ctx.close(ReasonCode.quotaExceeded, 'Persistent storage full', 'closed-by-handler')
      })
    },

    onDisconnect(ctx, packet) {
      broker.disconnect(ctx, packet.reasonCode, packet.properties?.sessionExpiryInterval)
    },

    onClose(ctx, info) {
      broker.closed(ctx, info.wasConnected)
    },

    async shutdown() {
      broker.close()
      await bridge?.close()
    },
  }
}

export { allowReservedTopic } from './limits.ts'

export default defineHandler(createBrokerHandler)
