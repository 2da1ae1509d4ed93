/**
 * One worker's link to the other nodes of a cluster, over NATS (design:
 * docs/cluster.md). Each worker has its own NATS connection and subscribes
 * only to what its own sessions subscribed to, so NATS sends a node only what
 * its clients want, straight to the worker that holds them.
 *
 * - QoS 0: core NATS on the topic's subject (subjects.ts). A message this node
 *   published comes back to its other workers (they subscribe too): the
 *   `Mqttd-Src` header names the node, and they drop it (this node routed it
 *   already, through its own workers). Overlapping filters of one worker make
 *   NATS deliver one copy per subscription; the per-sender sequence in the
 *   same header keeps the first.
 * - QoS 1/2: JetStream (stream MQTTD_Q, `$MQTTD.q.<subject>`). The PUBACK /
 *   PUBREC waits for the stream's acknowledgement; every worker of every node
 *   reads the stream through its own durable consumer and acknowledges a
 *   message once no persistent session here holds it any more (its client
 *   acknowledged it, or it was dropped), so a slow or restarting node loses
 *   nothing: the stream keeps it until taken. When a worker dies, one worker
 *   adopts its sessions and that consumer (`#adopt`): the first to notice,
 *   by a client of those sessions reconnecting or by its own look for
 *   workers without subscriptions (`#sweepDead`). What was still pending in
 *   that consumer is delivered to them again.
 * - A session moving to another node catches up with the stream (`claim`,
 *   `#onTake`, `arrived`): the two workers read it at different places, so
 *   the new one keeps what it reads while the session is on its way, the old
 *   one reads at least as far before it gives the session up, and the
 *   snapshot's mark says what the old one had delivered; the new one
 *   delivers from the stream exactly the rest, in the stream's order.
 * - Shared subscriptions: a NATS queue group per (group, filter) for QoS 0 and
 *   a JetStream consumer per (group, filter subject) that every member's
 *   worker pulls from for QoS 1/2: one member cluster-wide gets each message.
 *   A member holds its acknowledgement there until it lets go, so
 *   what a dead worker's members held is delivered again to another member
 *   (`#onSharedStream`).
 * - Retained messages: the key-value bucket MQTTD_retained; every worker
 *   watches it into its own replica, and a SUBSCRIBE waits until the replica
 *   caught up with the bucket, so a retained message acknowledged on any node
 *   is delivered on subscribe on every other.
 */
import { createHash, randomUUID } from 'node:crypto'
import { deserialize, serialize } from 'node:v8'
import {
  AckPolicy,
  type ConsumerMessages,
  DeliverPolicy,
  type JetStreamClient,
  type JetStreamManager,
  type JsMsg,
  jetstream,
  jetstreamManager,
} from '@nats-io/jetstream'
import { type KV, Kvm } from '@nats-io/kv'
import type { Msg, NatsConnection, Subscription } from '@nats-io/transport-node'
import type { Logger } from 'pino'
import { connectNats, noResponders } from '../cluster/connect.ts'
import {
  fromKvKey,
  kvKey,
  nodeSubject,
  QOS_PREFIX,
  QOS_STREAM,
  RETAINED_BUCKET,
  SESSIONS_BUCKET,
  SOURCE_HEADER,
  WORKER_CONSUMER,
  WORKERS_HEADER,
  workerConsumer,
} from '../cluster/names.ts'
import type { ClusterConfig } from '../cluster/schema.ts'
import { filterToSubjects, topicToSubject } from '../cluster/subjects.ts'
import { metricSpecs } from '../metrics/names.ts'
import { Counter, type CounterChild, type Registry } from '../metrics/prom.ts'
import { matchesFilter, parseFilter } from '../protocol/topic.ts'
import { pause } from '../runtime/pause.ts'
import { deliveryFor, type Merge, merge } from './delivery.ts'
import type { BrokerMessage } from './message.ts'
import { isExpired } from './message.ts'
import { messageFrom, messageHeaders, retainedFrom, retainedValue } from './nats-envelope.ts'
import { OrderedStreamPublisher } from './ordered-stream-publisher.ts'
import type { RemoteRoute, Router } from './router.ts'
import type {
  AckHold,
  Subscription as MqttSubscription,
  Session,
  SessionSnapshot,
  StreamMark,
} from './session.ts'
import { StreamRecovery } from './stream-recovery.ts'

/** Unacknowledged QoS 1/2 messages one worker takes from the stream at a time. */
const PULL_BATCH = 1000
/**
 * A worker's consumer never has the server deliver a message again while the
 * worker lives: a message unacknowledged that long is one a persistent session
 * still holds (the stream keeps messages an hour at most anyway).
 */
const ACK_WAIT_NS = 3600 * 1e9
/** A dead worker's consumer, once adopted: what it still has pending comes again this soon. */
const ADOPT_ACK_WAIT_NS = 500 * 1e6
/** Longest an adoption reads a dead worker's consumer before it gives up on what is left. */
const ADOPT_DRAIN_MS = 30_000
/** How long this node's own stream copy waits for the routing over a port it was announced for (a safety net). */
const EARLY_COPY_MS = 10_000
/** How long a session adopted here waits for the adoption to finish before another node may take it. */
const ADOPT_TAKE_WAIT_MS = 1500
/** How long a SUBSCRIBE waits for the retained replica to catch up with the bucket. */
const RETAINED_BARRIER_MS = 2000
/** How often, at most, a worker looks for dead workers (deadWorkerAfterMs / 3 when that is shorter). */
const DEAD_SWEEP_MS = 10_000
/** Longest a session moved in from another node catches up with the stream before its parked deliveries go in anyway. */
const CATCH_UP_MS = 10_000
/** Most stream messages one session on its way here keeps for it (beyond: lost for it, counted as dropped). */
const MAX_ARRIVING = 50_000

/** A share group message a member of this worker holds: acknowledged in the group's consumer when it lets go. */
interface SharedHeld {
  /** Its latest delivery (the one to acknowledge or report progress on). */
  m: JsMsg
  /** When its consumer last heard about it from here (delivery or progress report). */
  at: number
}

interface FilterState {
  count: number
  subs: Subscription[]
  /** Shared subscriptions: this worker's pulls from the group's JetStream consumers. */
  pulls: Promise<ConsumerMessages | undefined>[]
}

/** A stream message as a session catching up judges it: its sequence, its id (`Mqttd-Src`) and the workers of its node it was routed to. */
interface StreamCopy {
  seq: number
  src: string
  workers: string | undefined
}

/** A session on its way here from another node (`claim`): the stream messages read meanwhile, held until it is installed. */
interface Arrival {
  /** This worker's consumer position when it asked for the session. */
  from: number
  items: { m: JsMsg; hold: AckHold }[]
  dropped: number
  mark?: StreamMark
}

/**
 * A session moved here from another node, catching up: which stream messages
 * the old worker had delivered to it (`mark`), which of this node's own
 * messages this worker had routed when it arrived (`cut`), and the ids of this
 * node's own messages the old worker had delivered (`covered`: a copy the
 * routing here parked is dropped).
 */
interface CatchUp {
  session: Session
  mark: StreamMark
  markCut: Map<string, number>
  cut: Map<string, number>
  covered: Set<string>
  /** The stream's last sequence once this node's workers route to the session: caught up when the consumer reached it. */
  until: number | undefined
  timer: NodeJS.Timeout
  done: Promise<void>
  finish: () => void
}

/** `<node>|<link>|<n>`, the id of a QoS 1/2 message (n counts per link). */
function parseId(id: string): { node: string; link: string; n: number } | undefined {
  const a = id.indexOf('|')
  const b = id.lastIndexOf('|')
  if (a < 0 || b <= a) return undefined
  return { node: id.slice(0, a), link: id.slice(a + 1, b), n: Number(id.slice(b + 1)) }
}

/** Whether the `Mqttd-Workers` header `workers` names worker `id`. */
function listed(workers: string | undefined, id: number): boolean {
  return workers !== undefined && workers !== '' && workers.split(',').includes(String(id))
}

function copyOf(m: JsMsg): StreamCopy {
  return { seq: m.seq, src: m.headers?.get(SOURCE_HEADER) ?? '', workers: m.headers?.get(WORKERS_HEADER) }
}

export interface BridgeOptions {
  config: ClusterConfig
  baseDir: string
  workerId: number
  router: Router
  log: Logger
  metrics: Registry
  drop: (reason: string) => void
  /** This worker's sessions, for another node that takes one (its client connected there). */
  giveUp: (clientId: string, resume: boolean) => SessionSnapshot | null | undefined
  /** Installs a dead worker's session here (offline) and returns it; undefined when one is here already. */
  adopt: (snapshot: SessionSnapshot) => Session | undefined
  /** The session this worker holds for `clientId`. */
  session: (clientId: string) => Session | undefined
}

/**
 * A session directory entry: the worker (node and link) that holds the
 * client's session; for a persistent session also its expiry and
 * subscriptions, so another node can take it up when this one died.
 */
interface Holder {
  node: string
  link: string
  expiry?: number
  subs?: [string, MqttSubscription][]
  /** Installed by an adoption (`#adopt`), which may still be delivering the dead worker's messages to it. */
  adopted?: 1
  /**
   * A persistent session's in-flight window (Session.window): at most this many of the messages a
   * dead holder's consumer had pending for it were sent to its client, the oldest ones; absent in
   * entries of older nodes.
   */
  win?: number
}

/** How long a connecting client waits for the node that held its session. */
const TAKE_TIMEOUT_MS = 2000

/** The directory key that makes one worker the adopter of dead worker `link` of `node`. */
function adoptLock(node: string, link: string): string {
  return `adopt.${node}.${link}`
}
/**
 * The lock's value once the adopter installed the sessions and rewrote their
 * entries: `adopted:<adopter's consumer>`, so that whoever adopts the adopter
 * in turn also reads the dead consumers it was still holding messages in.
 */
const ADOPTED = 'adopted'

function counter(registry: Registry, spec: { name: string; help: string; labelNames: readonly string[] }) {
  return (
    (registry.getSingleMetric(spec.name) as Counter<string> | undefined) ??
    new Counter({ name: spec.name, help: spec.help, labelNames: [...spec.labelNames], registers: [registry] })
  )
}

/** How long a worker keeps its acknowledged JetStream publishes, to send again those a NATS restart lost. */
const KEEP_ACKED_MS = 5000
/** A short, NATS-safe name for a share group of a filter (queue groups and consumers). */
function groupName(group: string, filter: string, subject = ''): string {
  return `mqttd_${createHash('sha256').update(`${group}\u0000${filter}\u0000${subject}`).digest('hex').slice(0, 24)}`
}

export class NatsBridge implements RemoteRoute {
  readonly #o: BridgeOptions
  readonly #nc: NatsConnection
  readonly #js: JetStreamClient
  /** QoS 1/2 messages into the stream, in this worker's order across NATS outages. */
  readonly #stream: OrderedStreamPublisher
  readonly #jsm: JetStreamManager
  readonly #retained: KV
  readonly #sessions: KV
  readonly #node: string
  readonly #link: string
  /** `<node>|<link>|`: this worker's connection, new at every start. */
  readonly #source: string
  #seq = 0
  /** Per sending link, the last core sequence delivered here (overlapping subscriptions each get a copy). */
  readonly #lastSeq = new Map<string, number>()
  readonly #filters = new Map<string, FilterState>()
  readonly #pending = new Set<Promise<unknown>>()
  readonly #plain: ConsumerMessages
  #retainedRevision = 0
  readonly #retainedWaiters = new Set<{ revision: number; resolve: () => void }>()
  #closed = false
  /** What this worker received of the stream, and what it recovers after NATS trouble. */
  readonly #recovery: StreamRecovery
  /** This node's own messages that persistent sessions here hold, by id, until they let go. */
  readonly #ownHolds = new Map<string, AckHold & { ack?: () => void }>()
  /** This node's own stream copies that came before the routing over this worker's port, by id. */
  readonly #early = new Map<string, { ack: () => void; at: number }>()
  /** Per link of this node, the highest message number this worker routed (`hold`): where a moving session stands in this node's own messages. */
  readonly #routedUpTo = new Map<string, number>()
  /** Sessions on their way here from another node, by client id. */
  readonly #arrivals = new Map<string, Arrival>()
  /** Sessions moved here from another node that are still catching up with the stream, by client id. */
  readonly #catching = new Map<string, CatchUp>()
  /** The stream message being delivered now: a session catching up judges by it whether it has the message already. */
  #streamCopy: StreamCopy | undefined
  #earlySweep: NodeJS.Timeout | undefined
  /** Sessions adopted from a dead worker, until what its consumer held for them is delivered. */
  readonly #adopting = new Map<string, Promise<void>>()
  /** Workers whose consumer is there but whose subscriptions are not: since when, by consumer name. */
  readonly #silent = new Map<string, number>()
  /** Dead workers this worker tried to adopt (won or lost the lock): not asked again. */
  readonly #taken = new Set<string>()
  #deadSweep: NodeJS.Timeout | undefined
  /**
   * Share group messages a member here still holds, by `<consumer> <seq>`, in the order of their
   * last progress report to the group's consumer (oldest first).
   */
  readonly #sharedHeld = new Map<string, SharedHeld>()
  #sharedRefresh: NodeJS.Timeout | undefined
  readonly #sent: CounterChild
  readonly #received: CounterChild
  readonly #reconnects: CounterChild
  readonly #deadLooks: CounterChild
  readonly #adoptions: CounterChild
  readonly #giveBackShared: CounterChild

  private constructor(
    o: BridgeOptions,
    nc: NatsConnection,
    jsm: JetStreamManager,
    retained: KV,
    sessions: KV,
    plain: ConsumerMessages,
    link: string,
    start: number,
  ) {
    this.#o = o
    this.#nc = nc
    this.#jsm = jsm
    this.#js = jetstream(nc)
    const js = this.#js
    this.#stream = new OrderedStreamPublisher({
      publish: (subject, payload, options) => js.publish(subject, payload, options),
      timeoutMs: o.config.publishTimeoutMs,
      onFailure: (err) => o.log.debug({ err }, 'cluster: JetStream publish failed; sending again'),
      keepAckedMs: KEEP_ACKED_MS,
      lost: (acked) => this.#recovery.lostInRestart(acked),
    })
    this.#retained = retained
    this.#sessions = sessions
    this.#node = o.config.nodeId
    this.#link = link
    this.#source = `${this.#node}|${link}|`
    this.#plain = plain
    const messages = counter(o.metrics, metricSpecs.clusterMessages)
    this.#sent = messages.labels(this.#node, 'out')
    this.#received = messages.labels(this.#node, 'in')
    this.#reconnects = counter(o.metrics, metricSpecs.clusterReconnects).labels(this.#node)
    this.#reconnects.inc(0)
    this.#deadLooks = counter(o.metrics, metricSpecs.clusterDeadLooks).labels(this.#node)
    this.#adoptions = counter(o.metrics, metricSpecs.clusterAdoptions).labels(this.#node)
    this.#deadLooks.inc(0)
    this.#adoptions.inc(0)
    this.#giveBackShared = counter(o.metrics, metricSpecs.clusterSharedGivenBack).labels(this.#node)
    const recovered = counter(o.metrics, metricSpecs.clusterStreamRecovered)
    this.#recovery = new StreamRecovery({
      jsm,
      nc,
      log: o.log,
      durable: workerConsumer(this.#node, link),
      start,
      ackWaitNs: ACK_WAIT_NS,
      publishTimeoutMs: o.config.publishTimeoutMs,
      restartLost: recovered.labels(this.#node, 'restart_lost'),
      connectionLost: recovered.labels(this.#node, 'connection_lost'),
      closed: () => this.#closed,
    })
  }

  /** Connects this worker (MQTTD_ERR_CLUSTER_CONNECT when NATS cannot be reached) and starts reading. */
  static async start(o: BridgeOptions): Promise<NatsBridge> {
    const link = randomUUID().slice(0, 8)
    const nc = await connectNats(o.config, o.baseDir, `mqttd ${o.config.nodeId} worker ${o.workerId}`)
    const jsm = await jetstreamManager(nc)
    const retained = await new Kvm(nc).open(RETAINED_BUCKET)
    const durable = workerConsumer(o.config.nodeId, link)
    const made = await jsm.consumers.add(QOS_STREAM, {
      durable_name: durable,
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.New,
      filter_subject: `${QOS_PREFIX}>`,
      // removed by the server once nobody pulled from it for this long (a dead worker's nobody adopted)
      inactive_threshold: o.config.consumerIdleMs * 1e6,
      ack_wait: ACK_WAIT_NS,
      // messages held for offline persistent sessions stay unacknowledged: a cap would stop the reading
      max_ack_pending: -1,
    })
    let bridge: NatsBridge | undefined
    const early: JsMsg[] = []
    const consumer = await jetstream(nc).consumers.get(QOS_STREAM, durable)
    const plain = await consumer.consume({
      max_messages: PULL_BATCH,
      callback: (m) => {
        if (bridge !== undefined) bridge.#onStream(m)
        else early.push(m)
      },
    })
    const sessions = await new Kvm(nc).open(SESSIONS_BUCKET)
    bridge = new NatsBridge(o, nc, jsm, retained, sessions, plain, link, made.delivered.stream_seq)
    const self = bridge
    for (const m of early) self.#onStream(m)
    nc.subscribe(nodeSubject(o.config.nodeId, `${link}.take`), {
      callback: (_err, m) => void self.#onTake(m),
    })
    nc.subscribe(nodeSubject(o.config.nodeId, `${link}.settle`), {
      callback: (_err, m) => void self.#onSettle(m),
    })
    nc.subscribe(nodeSubject(o.config.nodeId, `${link}.position`), {
      callback: (_err, m) => void m.respond(String(self.#recovery.position.received(Date.now()))),
    })
    await bridge.#watchRetained()
    void bridge.#watchStatus()
    bridge.#watchDead()
    return bridge
  }

  /**
   * Looks for dead workers now and then, so that their persistent sessions
   * and what their consumers held are adopted while the consumers are still
   * there (JetStream removes one after consumerIdleMs), whenever their clients
   * come back. Every worker looks (the adoption's lock picks one adopter):
   * a node's death then does not wait for a particular worker elsewhere.
   */
  #watchDead(): void {
    const every = Math.min(DEAD_SWEEP_MS, Math.max(100, Math.floor(this.#o.config.deadWorkerAfterMs / 3)))
    const next = () => {
      if (this.#closed) return
      // jittered: the workers of a cluster do not all ask JetStream at once
      this.#deadSweep = setTimeout(() => void this.#sweepDead().finally(next), every * (0.5 + Math.random()))
      this.#deadSweep.unref()
    }
    next()
  }

  /**
   * One look: a worker consumer whose `settle` subject has had no responders
   * for deadWorkerAfterMs belongs to a dead worker. Only a missing subscription
   * counts: a worker that is slow to answer, or a NATS that this worker cannot
   * reach, says nothing about the other worker.
   */
  async #sweepDead(): Promise<void> {
    const own = workerConsumer(this.#node, this.#link)
    const listed = new Set<string>()
    try {
      for await (const c of this.#jsm.consumers.list(QOS_STREAM)) {
        const m = WORKER_CONSUMER.exec(c.name)
        if (m === null || c.name === own || this.#closed) continue
        listed.add(c.name)
        if (this.#taken.has(c.name)) continue
        const node = m[1]!
        const link = m[2]!
        if (await this.#answers(node, link)) {
          this.#silent.delete(c.name)
          continue
        }
        const now = Date.now()
        const since = this.#silent.get(c.name)
        if (since === undefined) this.#silent.set(c.name, now)
        if (since === undefined || now - since < this.#o.config.deadWorkerAfterMs) continue
        this.#silent.delete(c.name)
        this.#taken.add(c.name)
        this.#o.log.warn(
          { node, link, silentMs: now - since },
          'cluster: a worker without subscriptions in NATS is taken for dead',
        )
        await this.#adopt(node, link)
      }
    } catch (err) {
      this.#o.log.debug({ err }, 'cluster: looking for dead workers failed; trying again')
      return
    }
    this.#deadLooks.inc()
    for (const name of this.#silent.keys()) if (!listed.has(name)) this.#silent.delete(name)
    for (const name of this.#taken) if (!listed.has(name)) this.#taken.delete(name)
  }

  /** Whether worker `link` of `node` has its subscriptions in NATS (a late or failed answer says yes). */
  async #answers(node: string, link: string): Promise<boolean> {
    try {
      await this.#nc.request(nodeSubject(node, `${link}.settle`), '', { timeout: TAKE_TIMEOUT_MS })
      return true
    } catch (err) {
      return !noResponders(err)
    }
  }

  async #watchStatus(): Promise<void> {
    for await (const s of this.#nc.status()) {
      if (s.type === 'disconnect') {
        // before anything else runs: a publish handed to the client now would overtake those lost in flight
        this.#stream.disconnected()
        this.#o.log.warn(
          { server: s.server },
          'cluster: NATS connection lost; local delivery goes on, reconnecting',
        )
      } else if (s.type === 'reconnect') {
        this.#stream.reconnected()
        this.#reconnects.inc()
        this.#o.log.info({ server: s.server }, 'cluster: NATS connection back')
      } else if (s.type === 'error') this.#o.log.warn({ err: s.error }, 'cluster: NATS error')
    }
  }

  async #watchRetained(): Promise<void> {
    const status = await this.#retained.status()
    const initial = status.streamInfo.state.last_seq
    const watch = await this.#retained.watch()
    void (async () => {
      for await (const e of watch) {
        this.#retainedRevision = Math.max(this.#retainedRevision, e.revision)
        try {
          if (e.operation === 'PUT') this.#applyRetained(retainedFrom(e.value))
          else
            this.#applyRetained({
              topic: Buffer.from(e.key, 'base64url').toString(),
              payload: new Uint8Array(0),
              qos: 0,
              retain: true,
              properties: undefined,
              expiresAt: undefined,
              origin: '',
            })
        } catch (err) {
          this.#o.log.warn({ err, key: e.key }, 'cluster: unreadable retained entry skipped')
        }
        for (const w of this.#retainedWaiters) if (this.#retainedRevision >= w.revision) w.resolve()
      }
    })()
    // the worker serves clients once it holds what the bucket held at start
    await this.#caughtUp(initial)
  }

  #applyRetained(message: BrokerMessage): void {
    if (message.payload.byteLength > 0 && isExpired(message, Date.now())) return
    this.#o.router.retained.set(message, { time: Date.now(), worker: this.#o.workerId })
  }

  #caughtUp(revision: number): Promise<void> {
    if (this.#retainedRevision >= revision) return Promise.resolve()
    return new Promise((resolve) => {
      const waiter = { revision, resolve: () => finish() }
      const timer = setTimeout(() => finish(), RETAINED_BARRIER_MS)
      const finish = () => {
        clearTimeout(timer)
        this.#retainedWaiters.delete(waiter)
        resolve()
      }
      this.#retainedWaiters.add(waiter)
    })
  }

  /** Resolves once this worker's replica holds every retained write the bucket had acknowledged before. */
  async retainedBarrier(): Promise<void> {
    try {
      const status = await this.#retained.status()
      await this.#caughtUp(status.streamInfo.state.last_seq)
    } catch (err) {
      this.#o.log.warn({ err }, 'cluster: retained bucket unavailable; serving the local replica')
    }
  }

  interest(raw: string, delta: number): void {
    let state = this.#filters.get(raw)
    if (state === undefined) {
      if (delta <= 0) return
      state = { count: 0, subs: [], pulls: [] }
      this.#filters.set(raw, state)
    }
    const before = state.count
    state.count += delta
    if (before <= 0 && state.count > 0) this.#open(raw, state)
    else if (before > 0 && state.count <= 0) {
      this.#close(state)
      this.#filters.delete(raw)
    }
  }

  #open(raw: string, state: FilterState): void {
    const parsed = parseFilter(raw)
    if (parsed === undefined) return
    const subjects = filterToSubjects(parsed.filter)
    const group = parsed.group
    for (const subject of subjects) {
      if (group === undefined) {
        state.subs.push(this.#nc.subscribe(subject, { callback: (_err, m) => this.#onCore(m) }))
        continue
      }
      state.subs.push(
        this.#nc.subscribe(subject, {
          queue: groupName(group, parsed.filter),
          callback: (_err, m) => this.#onShared(m, m.subject, group, parsed.filter),
        }),
      )
      state.pulls.push(this.#track(this.#pullShared(group, parsed.filter, subject)))
    }
  }

  #close(state: FilterState): void {
    for (const sub of state.subs) sub.unsubscribe()
    for (const pull of state.pulls) void pull.then((m) => m?.close()).catch(() => {})
  }

  async #pullShared(group: string, filter: string, subject: string): Promise<ConsumerMessages | undefined> {
    const name = groupName(group, filter, subject)
    // a member holds a message's acknowledgement until it lets go of it, and its worker reports
    // progress meanwhile: silent this long, the worker is dead, and the consumer delivers the
    // message again to another member's worker
    const ackWait = this.#o.config.deadWorkerAfterMs * 1e6
    try {
      let info: Awaited<ReturnType<JetStreamManager['consumers']['info']>> | undefined
      try {
        info = await this.#jsm.consumers.info(QOS_STREAM, name)
      } catch {
        await this.#jsm.consumers.add(QOS_STREAM, {
          durable_name: name,
          ack_policy: AckPolicy.Explicit,
          deliver_policy: DeliverPolicy.New,
          filter_subject: `${QOS_PREFIX}${subject}`,
          // a group without members keeps what was published for its next member this long
          inactive_threshold: this.#o.config.consumerIdleMs * 1e6,
          ack_wait: ackWait,
          // messages held for offline persistent members stay unacknowledged: a cap would stop the group
          max_ack_pending: -1,
        })
      }
      // made by a node that acknowledged on delivery (30 s, 1,000 pending): the hold needs these
      if (info !== undefined && (info.config.ack_wait !== ackWait || info.config.max_ack_pending !== -1))
        await this.#jsm.consumers
          .update(QOS_STREAM, name, { ack_wait: ackWait, max_ack_pending: -1 })
          .catch((err: unknown) => {
            // still read: held messages may then come again to another member (or stall at 1,000)
            this.#o.log.warn(
              { err, group, filter },
              "cluster: the share group's consumer kept its old settings",
            )
          })
      const consumer = await this.#js.consumers.get(QOS_STREAM, name)
      return await consumer.consume({
        max_messages: 100,
        callback: (m) => this.#onSharedStream(m, name, group, filter),
      })
    } catch (err) {
      this.#o.log.error({ err, group, filter }, 'cluster: cannot read the shared subscription from JetStream')
      return undefined
    }
  }

  #track<T>(p: Promise<T>): Promise<T> {
    this.#pending.add(p)
    void p.finally(() => this.#pending.delete(p))
    return p
  }

  /** Resolves once NATS has every subscription made so far (SUBACK waits for it: SUBACK means routed). */
  async settled(): Promise<void> {
    if (this.#closed) return
    await Promise.all([...this.#pending])
    try {
      await this.#nc.flush()
    } catch {
      // NATS away: the subscriptions are sent again on reconnect
    }
  }

  /** A core message: plain subscriptions of this worker. */
  #onCore(m: Msg): void {
    const src = m.headers?.get(SOURCE_HEADER) ?? ''
    if (src.startsWith(this.#source.slice(0, this.#node.length + 1))) return
    if (src !== '') {
      // one copy per overlapping subscription: the first one of each sender's sequence is delivered
      const cut = src.lastIndexOf('|')
      const link = src.slice(0, cut)
      const seq = Number(src.slice(cut + 1))
      if (seq <= (this.#lastSeq.get(link) ?? 0)) return
      this.#lastSeq.set(link, seq)
    }
    this.#received.inc()
    this.#o.router.deliverRemote(messageFrom(m.subject, m.data, m.headers))
  }

  /** A core message for a share group: any node's, this node's own included. */
  #onShared(m: Msg, subject: string, group: string, filter: string): void {
    this.#received.inc()
    const message = messageFrom(subject, new Uint8Array(m.data), m.headers)
    this.#o.router.deliverRemoteShared(message, group, filter)
  }

  /**
   * A QoS 1/2 message from the stream, for this worker's plain subscriptions.
   * Acknowledged once no persistent session here holds it any more.
   */
  #onStream(m: JsMsg): void {
    if (!this.#recovery.admit(m.seq, m.info.redelivered)) return
    const src = m.headers?.get(SOURCE_HEADER) ?? ''
    // what a session catching up judges the message by (none catching up: nobody judges)
    const copy = this.#catching.size > 0 ? copyOf(m) : undefined
    // one acknowledgement for all its holders here: persistent sessions, sessions on their way, this reading
    const hold: AckHold = { count: 1, release: () => m.ack() }
    for (const arrival of this.#arrivals.values()) this.#keepArriving(arrival, m, hold)
    // this node's own: its workers routed it already; acknowledged once the persistent sessions here
    // that took it let go (a copy that comes before the routing here is not held)
    if (src.startsWith(this.#source.slice(0, this.#node.length + 1))) {
      // but not to a session that arrived from another node after that routing
      if (copy !== undefined) this.#catchUpOwn(copy, m, hold)
      const done = () => {
        if (--hold.count === 0) hold.release()
      }
      const own = this.#ownHolds.get(src)
      if (own !== undefined) own.ack = done
      else if (this.#routedHere(m)) this.#waitForRouting(src, done)
      else done()
    } else {
      this.#received.inc()
      const message = messageFrom(m.subject.slice(QOS_PREFIX.length), new Uint8Array(m.data), m.headers)
      this.#streamCopy = copy
      try {
        this.#o.router.deliverRemote(message, hold)
      } finally {
        this.#streamCopy = undefined
      }
      if (--hold.count === 0) hold.release()
    }
    for (const state of this.#catching.values())
      if (state.until !== undefined && m.seq >= state.until) this.#doneCatchingUp(state)
  }

  /** One more stream message read while `arrival`'s session is on its way here: kept (and held) for it. */
  #keepArriving(arrival: Arrival, m: JsMsg, hold: AckHold): void {
    if (arrival.items.length >= MAX_ARRIVING) {
      arrival.dropped++
      return
    }
    hold.count++
    arrival.items.push({ m, hold })
  }

  /** One of this node's own messages from the stream: to the sessions catching up that the routing here did not give it. */
  #catchUpOwn(copy: StreamCopy, m: JsMsg, hold: AckHold): void {
    let message: BrokerMessage | undefined
    for (const state of this.#catching.values()) {
      if (this.#o.session(state.session.clientId) !== state.session || !this.#owes(state, copy)) continue
      message ??= messageFrom(m.subject.slice(QOS_PREFIX.length), new Uint8Array(m.data), m.headers)
      this.#deliverTo(state.session, message, hold, copy)
    }
  }

  /**
   * Whether the stream's `copy` of a message is one a session moved here
   * still needs from the stream: the old worker did not deliver it to the
   * session, and the routing on this node does not either.
   */
  #owes(state: CatchUp, copy: StreamCopy): boolean {
    const { mark } = state
    const id = parseId(copy.src)
    if (id === undefined) return copy.seq > mark.seq
    if (id.node === mark.node) {
      // the old node's own: its worker had it from the routing there, not from its consumer
      const routed = id.link === mark.link || listed(copy.workers, mark.worker)
      return !routed || id.n > (state.markCut.get(id.link) ?? 0)
    }
    if (id.node === this.#node) {
      if (copy.seq <= mark.seq) {
        // the old worker's consumer delivered it: a copy the routing here gives the session goes
        state.covered.add(copy.src)
        return false
      }
      // routed to this worker after the session arrived: the routing gave it to the session
      const routed = id.link === this.#link || listed(copy.workers, this.#o.workerId)
      return !routed || id.n <= (state.cut.get(id.link) ?? 0)
    }
    return copy.seq > mark.seq
  }

  /**
   * A QoS 1/2 message of share group `group` from its consumer `name`: to one member here. The
   * member (persistent or clean) holds its acknowledgement until it lets go of the message (its client's
   * PUBACK or PUBREC, a drop, its expiry, its move), and this worker tells the consumer that it
   * still works on it (`#refreshShared`). When this worker dies, its held messages are delivered
   * again, once the consumer's ack_wait (deadWorkerAfterMs) passed, to another member's worker:
   * the spec lets a message whose member's connection broke go to another member, and asks for
   * it when that member's session ended (MQTT 5.0 section 4.8.2).
   */
  #onSharedStream(m: JsMsg, name: string, group: string, filter: string): void {
    const key = `${name} ${m.seq}`
    const mine = this.#sharedHeld.get(key)
    if (mine !== undefined) {
      // still held here: its progress report came late (a blocked event loop, NATS away)
      mine.m = m
      this.#touchShared(key, mine)
      return
    }
    this.#received.inc()
    const message = messageFrom(m.subject.slice(QOS_PREFIX.length), new Uint8Array(m.data), m.headers)
    const entry: SharedHeld = { m, at: Date.now() }
    const hold: AckHold = {
      count: 1,
      // a clean member's too: on its node's death the message goes to another member
      always: true,
      release: () => {
        if (this.#sharedHeld.get(key) === entry) this.#sharedHeld.delete(key)
        try {
          entry.m.ack()
        } catch {
          // NATS closed under it: the consumer delivers it again to another member (at least once)
        }
      },
      // the member's session ended before its client acknowledged it: the group's consumer gives it
      // to a member now (nak: delivered again at once), not after ack_wait
      giveBack: () => {
        if (this.#sharedHeld.get(key) === entry) this.#sharedHeld.delete(key)
        this.#giveBackShared.inc()
        try {
          entry.m.nak()
        } catch {
          // NATS closed under it: the consumer delivers it again after ack_wait (at least once)
        }
      },
    }
    this.#sharedHeld.set(key, entry)
    // no member left here: another worker of the group takes it. One a dead worker held goes out as
    // a new PUBLISH (DUP 0) [5.0 MQTT-4.3.2-2] [5.0 MQTT-4.3.3-2]: under a new packet id, and maybe to
    // another client than the one it was in flight to
    if (this.#o.router.deliverRemoteShared(message, group, filter, hold) === 0) {
      this.#sharedHeld.delete(key)
      m.nak()
      return
    }
    if (--hold.count === 0) hold.release()
    else this.#sharedRefresh ??= this.#scheduleRefresh()
  }

  /** Reports progress on a held share group message: its consumer does not deliver it again meanwhile. */
  #touchShared(key: string, entry: SharedHeld): void {
    entry.m.working()
    entry.at = Date.now()
    // kept in the order of the last report, so a refresh looks at the oldest only
    this.#sharedHeld.delete(key)
    this.#sharedHeld.set(key, entry)
  }

  #scheduleRefresh(): NodeJS.Timeout {
    const every = Math.max(100, Math.floor(this.#o.config.deadWorkerAfterMs / 3))
    const timer = setInterval(() => this.#refreshShared(every), every)
    timer.unref()
    return timer
  }

  /**
   * Every deadWorkerAfterMs / 3: one progress report (`+WPI`) per share group message held here
   * since at least that long, so that its consumer (ack_wait deadWorkerAfterMs) keeps it for this
   * worker; a message acknowledged sooner costs nothing more.
   */
  #refreshShared(every: number): void {
    if (this.#closed || this.#sharedHeld.size === 0) {
      clearInterval(this.#sharedRefresh)
      this.#sharedRefresh = undefined
      return
    }
    const before = Date.now() - every
    for (const [key, entry] of this.#sharedHeld) {
      if (entry.at > before) break
      try {
        this.#touchShared(key, entry)
      } catch {
        // NATS away: reported again next time (the consumer may deliver it again meanwhile)
        break
      }
    }
  }

  /** Whether the publishing worker routed this node's own message `m` to this worker over its port. */
  #routedHere(m: JsMsg): boolean {
    const workers = m.headers?.get(WORKERS_HEADER)
    if (workers === undefined || workers === '') return false
    return workers.split(',').includes(String(this.#o.workerId))
  }

  /** The stream was faster than the port: the routing here (`hold`) takes the copy up. */
  #waitForRouting(id: string, ack: () => void): void {
    this.#early.set(id, { ack, at: Date.now() })
    // a routing that never comes (a path that does not route here after all) must not keep it for ever
    this.#earlySweep ??= setInterval(() => {
      const old = Date.now() - EARLY_COPY_MS
      for (const [key, e] of this.#early)
        if (e.at <= old) {
          this.#early.delete(key)
          e.ack()
        }
      if (this.#early.size === 0) {
        clearInterval(this.#earlySweep)
        this.#earlySweep = undefined
      }
    }, EARLY_COPY_MS).unref()
  }

  nextId(): string {
    return `${this.#source}${++this.#seq}`
  }

  hold(id: string): AckHold {
    const parsed = parseId(id)
    if (parsed !== undefined && parsed.n > (this.#routedUpTo.get(parsed.link) ?? 0))
      this.#routedUpTo.set(parsed.link, parsed.n)
    const hold: AckHold & { ack?: () => void } = {
      count: 1,
      release: () => {
        if (this.#ownHolds.get(id) === hold) this.#ownHolds.delete(id)
        hold.ack?.()
      },
    }
    this.#ownHolds.set(id, hold)
    const early = this.#early.get(id)
    if (early !== undefined) {
      this.#early.delete(id)
      hold.ack = early.ack
    }
    return hold
  }

  publish(message: BrokerMessage, workers: readonly number[] = []): Promise<boolean> | undefined {
    // the $SYS tree is each node's own
    if (this.#closed || message.topic.startsWith('$SYS/')) return undefined
    const { subject, exact } = topicToSubject(message.topic)
    const id = message.id ?? this.nextId()
    const h = messageHeaders(message, id, exact)
    this.#sent.inc()
    const retained = message.retain ? this.#storeRetained(message) : undefined
    if (message.qos === 0) {
      try {
        this.#nc.publish(subject, message.payload, { headers: h })
      } catch (err) {
        this.#o.drop('cluster_unavailable')
        this.#o.log.debug({ err }, 'cluster: QoS 0 publish not sent')
      }
      return retained
    }
    if (workers.length > 0) h.set(WORKERS_HEADER, workers.join(','))
    const stored = this.#stream.publish(`${QOS_PREFIX}${subject}`, message.payload, h, id)
    return retained === undefined ? stored : Promise.all([stored, retained]).then(([a, b]) => a && b)
  }

  async #storeRetained(message: BrokerMessage): Promise<boolean> {
    const key = kvKey(message.topic)
    const deadline = Date.now() + this.#o.config.publishTimeoutMs
    for (;;) {
      if (Date.now() >= deadline || this.#closed) return false
      try {
        if (message.payload.byteLength === 0) await this.#retained.delete(key)
        else await this.#retained.put(key, retainedValue(message))
        return true
      } catch (err) {
        this.#o.log.debug({ err }, 'cluster: retained write failed; retrying')
        await pause(100)
      }
    }
  }

  /**
   * Call right after a session `claim` returned was installed (same turn):
   * the session catches up with the stream from where the old worker stood
   * (the snapshot's mark). It gets the messages this worker read while it was
   * on its way, then from this worker's consumer what the old worker had not
   * delivered to it, and it skips what the old worker had; deliveries from
   * the routing on this node wait (parked) until the consumer reached the
   * stream's end as of the moment this node's workers all route to it, so one
   * publisher's messages keep their order.
   */
  arrived(clientId: string): void {
    const arrival = this.#arrivals.get(clientId)
    if (arrival === undefined) return
    this.#arrivals.delete(clientId)
    const session = this.#o.session(clientId)
    const mark = arrival.mark
    if (session === undefined || mark === undefined) {
      for (const { hold } of arrival.items) if (--hold.count === 0) hold.release()
      return
    }
    if (arrival.dropped > 0) {
      this.#o.log.warn(
        { clientId, dropped: arrival.dropped },
        'cluster: a moving session missed stream messages',
      )
      for (let i = 0; i < arrival.dropped; i++) this.#o.drop('queue_full')
    }
    let finish: () => void = () => {}
    const done = new Promise<void>((resolve) => {
      finish = resolve
    })
    const state: CatchUp = {
      session,
      mark,
      markCut: new Map(mark.cut),
      cut: new Map(this.#routedUpTo),
      covered: new Set(),
      until: undefined,
      timer: setTimeout(() => {
        this.#o.log.warn({ clientId, until: state.until }, 'cluster: a moved session stopped catching up')
        this.#doneCatchingUp(state)
      }, CATCH_UP_MS),
      done,
      finish,
    }
    state.timer.unref()
    this.#catching.set(clientId, state)
    session.pause(() => {
      const copy = this.#streamCopy
      // from the routing here: after what the stream still brings
      if (copy === undefined) return 'park'
      return this.#owes(state, copy) ? 'pass' : 'skip'
    })
    for (const { m, hold } of arrival.items) {
      const copy = copyOf(m)
      if (this.#owes(state, copy)) {
        const message = messageFrom(m.subject.slice(QOS_PREFIX.length), new Uint8Array(m.data), m.headers)
        this.#deliverTo(session, message, hold, copy)
      }
      if (--hold.count === 0) hold.release()
    }
    void this.#catchUpUntil(state)
  }

  /** Sets where `state`'s session has caught up: the stream's end once every worker of this node routes to it. */
  async #catchUpUntil(state: CatchUp): Promise<void> {
    try {
      await this.#o.router.confirm(TAKE_TIMEOUT_MS)
      state.until = (await this.#jsm.streams.info(QOS_STREAM)).state.last_seq
    } catch (err) {
      this.#o.log.warn({ err }, 'cluster: stream position unknown; a moved session stops catching up')
      state.until = 0
    }
    if (this.#recovery.position.seq >= state.until) this.#doneCatchingUp(state)
  }

  /** `state`'s session caught up: what the routing here parked goes in, but for what the old worker had delivered. */
  #doneCatchingUp(state: CatchUp): void {
    const clientId = state.session.clientId
    if (this.#catching.get(clientId) !== state) return
    this.#catching.delete(clientId)
    clearTimeout(state.timer)
    state.session.resume((d) => d.message.id === undefined || !state.covered.has(d.message.id))
    state.finish()
  }

  /** A stream message to `session` alone, as its subscriptions ask (`copy`: the stream message it is, for the session's intake). */
  #deliverTo(
    session: Session,
    message: BrokerMessage,
    hold: AckHold,
    copy?: StreamCopy,
    dup = false,
  ): boolean {
    const merged = new Map<string, Merge>()
    for (const [raw, sub] of session.subscriptions) {
      const parsed = parseFilter(raw)
      if (parsed === undefined || parsed.group !== undefined) continue
      if (sub.nl && session.clientId === message.origin) continue
      if (matchesFilter(parsed.filter, message.topic)) merge(merged, session.clientId, session, sub)
    }
    const m1 = merged.get(session.clientId)
    if (m1 === undefined) return false
    const delivery = deliveryFor(message, m1)
    if (dup) delivery.dup = true
    delivery.hold = hold
    this.#streamCopy = copy
    try {
      return session.deliver(delivery, Date.now())
    } finally {
      this.#streamCopy = undefined
    }
  }

  /**
   * The client connects here: when its session directory entry names another
   * node, that node's worker closes its connection (v5 0x8E) and hands over the
   * session when the client resumes it. Then the entry names this worker.
   * Returns the session to install, if any.
   */
  async claim(clientId: string, resume: boolean): Promise<SessionSnapshot | undefined> {
    if (this.#closed) return undefined
    const key = kvKey(clientId)
    let snapshot: SessionSnapshot | undefined
    try {
      let holder = await this.#holder(key)
      for (let attempt = 0; holder !== undefined && holder.node !== this.#node; attempt++) {
        try {
          // from here on the stream messages this worker reads are kept for the session: the old worker
          // gives it up once it read at least as far, so nothing falls between the two
          if (resume && !this.#arrivals.has(clientId))
            this.#arrivals.set(clientId, { from: this.#recovery.position.seq, items: [], dropped: 0 })
          const reply = await this.#nc.request(
            nodeSubject(holder.node, `${holder.link}.take`),
            serialize({ clientId, resume, from: this.#arrivals.get(clientId)?.from ?? 0 }),
            { timeout: TAKE_TIMEOUT_MS },
          )
          snapshot = (deserialize(reply.data) as { snapshot?: SessionSnapshot }).snapshot
          break
        } catch (err) {
          this.#o.log.info(
            { err, clientId, node: holder.node },
            'cluster: the previous node did not hand over the session',
          )
          // its worker is gone: this one adopts its sessions and what its consumer held for them,
          // or another worker does, and the entry soon names that one
          if (attempt === 0 && noResponders(err)) {
            const dead = holder
            if (await this.#adopt(dead.node, dead.link)) {
              // installed here already (when it was persistent): nothing to hand over
              if (this.#o.session(clientId) !== undefined) break
            } else {
              holder = await this.#holderAfter(key, dead)
              if (holder?.link !== dead.link) continue
              // adopted, but not this session (it had no expiry): nothing to take up
              break
            }
          }
          // silent, or adopted by nobody: what the directory kept of a persistent session (its
          // subscriptions) is taken up; its queued messages are lost
          if (resume && holder?.subs !== undefined && (holder.expiry ?? 0) > 0)
            snapshot = {
              clientId,
              expiryInterval: holder.expiry!,
              subscriptions: holder.subs,
              inflight: [],
              queue: [],
            }
          break
        }
      }
      // adopted by another worker of this node, which the in-node hand-over takes it from: once the
      // adoption delivered what the dead worker held, so that it moves along
      if (holder?.adopted === 1 && holder.node === this.#node && holder.link !== this.#link)
        await this.#nc
          .request(nodeSubject(holder.node, `${holder.link}.settle`), clientId, { timeout: TAKE_TIMEOUT_MS })
          .catch(() => {})
      await this.#sessions.put(key, JSON.stringify({ node: this.#node, link: this.#link } satisfies Holder))
    } catch (err) {
      this.#o.log.warn({ err, clientId }, 'cluster: session directory unavailable')
    }
    const arrival = this.#arrivals.get(clientId)
    // nothing moves (or an old node without a mark): the messages kept for it go
    if (arrival !== undefined && snapshot?.stream !== undefined) arrival.mark = snapshot.stream
    else if (arrival !== undefined) this.arrived(clientId)
    return snapshot
  }

  /**
   * Keeps the directory entry of a session held here up to date (subscriptions
   * of a persistent one); `connected`: the client just connected (the entry is
   * written whatever the session, replacing what a previous holder kept);
   * `adopted`: installed by an adoption.
   */
  remember(session: Session, connected = false, adopted = false): void {
    if (this.#closed || (session.expiryInterval === 0 && !connected)) return
    const entry: Holder = { node: this.#node, link: this.#link }
    if (adopted) entry.adopted = 1
    if (session.expiryInterval > 0) {
      entry.expiry = session.expiryInterval
      entry.subs = [...session.subscriptions]
      entry.win = session.window
    }
    this.#sessions.put(kvKey(session.clientId), JSON.stringify(entry)).catch((err: unknown) => {
      this.#o.log.warn({ err, clientId: session.clientId }, 'cluster: session directory not updated')
    })
  }

  async #holder(key: string): Promise<Holder | undefined> {
    const entry = await this.#sessions.get(key)
    return entry?.operation === 'PUT' ? entry.json<Holder>() : undefined
  }

  /**
   * The directory entry of `key` once another worker adopted the sessions of
   * `dead` (its lock says so), or as it is after a while.
   */
  async #holderAfter(key: string, dead: Holder): Promise<Holder | undefined> {
    const deadline = Date.now() + TAKE_TIMEOUT_MS
    for (;;) {
      const holder = await this.#holder(key)
      if (holder?.link !== dead.link || Date.now() >= deadline) return holder
      const lock = await this.#sessions.get(adoptLock(dead.node, dead.link))
      if (lock?.operation === 'PUT' && lock.string().startsWith(ADOPTED)) return await this.#holder(key)
      await pause(100)
    }
  }

  /**
   * Worker `link` of `node` is gone. Exactly one worker (a lock in the
   * directory bucket) adopts its persistent sessions (installed here offline,
   * the directory naming this worker) and reads its consumer: the server
   * delivers again what was pending in it (messages queued or in flight for
   * those sessions, and whatever the stream got since), and each goes to the
   * adopted sessions it matches. Messages past this worker's own consumer
   * position reach them through that consumer instead. Returns whether this
   * worker adopted.
   */
  async #adopt(node: string, link: string): Promise<boolean> {
    const durable = workerConsumer(node, link)
    const lock = adoptLock(node, link)
    try {
      // kept afterwards: a later client of the dead worker neither adopts nor scans again
      await this.#sessions.create(lock, `adopting:${this.#node}_${this.#link}`)
    } catch {
      return false
    }
    // dead consumers the dead worker had adopted (or was adopting) and still held messages in: read
    // again from here
    const inherited: string[] = []
    const dying: string[] = []
    const windows = new Map<string, number>()
    const found = await this.#scanDirectory(
      new Set([`${node}.${link}`]),
      (key, value) => {
        if (!value.endsWith(`:${durable}`)) return
        inherited.push(key)
        if (value.startsWith('adopting:')) dying.push(key.slice('adopt.'.length))
      },
      windows,
    )
    // it died adopting them: their sessions' entries name those workers still (rare: a second scan)
    if (dying.length > 0) found.push(...(await this.#scanDirectory(new Set(dying), () => {}, windows)))
    // one turn: from here on this worker's own consumer delivers to them what comes after `upTo`
    const adopted: Session[] = []
    // per adopted session, how many of the messages coming again may have been sent to its client
    const maybeSent = new Map<Session, number>()
    for (const snapshot of found) {
      const session = this.#o.adopt(snapshot)
      if (session === undefined) continue
      adopted.push(session)
      const window = windows.get(snapshot.clientId)
      // an older node's entry says nothing: every message coming again may have been sent
      maybeSent.set(session, window ?? Number.POSITIVE_INFINITY)
      // its entry here keeps the window, for whoever adopts this worker in turn
      if (window !== undefined) session.widen(window)
    }
    const upTo = this.#recovery.position.seq
    for (const session of adopted) this.remember(session, true, true)
    const mine = `${ADOPTED}:${this.#node}_${this.#link}`
    const durables = [durable]
    for (const key of [lock, ...inherited]) {
      this.#sessions.put(key, mine).catch(() => {})
      // `adopt.<node>.<link>`: node ids have no dots
      if (key !== lock) durables.push(key.slice('adopt.'.length).replace(/\.(?=[^.]*$)/, '_'))
    }
    this.#adoptions.inc()
    this.#o.log.info(
      { node, link, sessions: adopted.length, inherited: durables.slice(1) },
      'cluster: adopting the sessions of a dead worker',
    )
    const drained = Promise.all(durables.map((d) => this.#drain(d, upTo, adopted, maybeSent)))
    const waiting = drained.then(
      () => {},
      () => {},
    )
    for (const session of adopted) this.#adopting.set(session.clientId, waiting)
    void waiting.then(() => {
      for (const session of adopted)
        if (this.#adopting.get(session.clientId) === waiting) this.#adopting.delete(session.clientId)
    })
    return true
  }

  /**
   * The persistent sessions the directory says the workers `links`
   * (`<node>.<link>`) held; each adoption lock on the way goes to `onLock`.
   */
  async #scanDirectory(
    links: Set<string>,
    onLock: (key: string, value: string) => void,
    windows: Map<string, number>,
  ): Promise<SessionSnapshot[]> {
    const found: SessionSnapshot[] = []
    for await (const key of await this.#sessions.keys()) {
      if (key.startsWith('adopt.')) {
        const value = await this.#sessions.get(key).catch(() => null)
        if (value?.operation === 'PUT') onLock(key, value.string())
        continue
      }
      const holder = await this.#holder(key).catch(() => undefined)
      if (holder === undefined || !links.has(`${holder.node}.${holder.link}`)) continue
      if (holder.subs === undefined || (holder.expiry ?? 0) <= 0) continue
      if (holder.win !== undefined) windows.set(fromKvKey(key), holder.win)
      found.push({
        clientId: fromKvKey(key),
        expiryInterval: holder.expiry!,
        subscriptions: holder.subs,
        inflight: [],
        queue: [],
      })
    }
    return found
  }

  /**
   * Reads the dead worker's consumer `durable`: what it had pending comes
   * again and goes to the adopted sessions, which hold its acknowledgement
   * there as they would in their own worker's consumer, so the adopter's own
   * death loses nothing either (its adopter reads this consumer again).
   * Resolves once every message pending at the death came again and the
   * consumer reached `upTo`; the consumer is deleted once nothing adopted
   * holds a message of it any more.
   */
  async #drain(
    durable: string,
    upTo: number,
    adopted: Session[],
    maybeSent: Map<Session, number>,
  ): Promise<void> {
    let pendingAtDeath: number
    try {
      pendingAtDeath = (await this.#jsm.consumers.info(QOS_STREAM, durable)).num_ack_pending
      // what it still has pending comes again at once, not in an hour
      await this.#jsm.consumers.update(QOS_STREAM, durable, { ack_wait: ADOPT_ACK_WAIT_NS })
    } catch (err) {
      // gone already (idle for consumerIdleMs, or adopted and emptied before)
      this.#o.log.warn(
        { err, durable },
        "cluster: the dead worker's consumer is gone; nothing to deliver from it",
      )
      return
    }
    const seen = new Set<number>()
    const came = new Set<number>()
    const held = new Set<number>()
    let delivered = 0
    let empty: () => void = () => {}
    const consumer = await this.#js.consumers.get(QOS_STREAM, durable)
    const reading = await consumer.consume({
      max_messages: PULL_BATCH,
      callback: (m) => {
        if (m.info.redelivered) came.add(m.seq)
        // past `upTo`, this worker's own consumer brings it
        if (m.seq > upTo) return m.ack()
        if (seen.has(m.seq)) {
          // an adopted session still holds it: acknowledged when that session lets go
          if (!held.has(m.seq)) m.ack()
          return
        }
        seen.add(m.seq)
        held.add(m.seq)
        const hold: AckHold = {
          count: 1,
          release: () => {
            held.delete(m.seq)
            m.ack()
            if (held.size === 0) empty()
          },
        }
        delivered += this.#deliverAdopted(m, adopted, hold, maybeSent)
        if (--hold.count === 0) hold.release()
      },
    })
    const deadline = Date.now() + ADOPT_DRAIN_MS
    try {
      for (;;) {
        await pause(100)
        const info = await this.#jsm.consumers.info(QOS_STREAM, durable)
        const reached = info.delivered.stream_seq >= upTo || info.num_pending === 0
        if (came.size >= pendingAtDeath && reached) break
        if (Date.now() >= deadline || this.#closed) {
          this.#o.log.warn(
            { durable, upTo, info },
            "cluster: adoption of a dead worker's consumer incomplete",
          )
          break
        }
      }
      // what the adopted sessions hold stays pending, not delivered again every half second
      await this.#jsm.consumers.update(QOS_STREAM, durable, { ack_wait: ACK_WAIT_NS })
    } catch (err) {
      this.#o.log.warn({ err, durable }, "cluster: reading a dead worker's consumer failed")
    }
    this.#o.log.info(
      { durable, delivered, held: held.size },
      'cluster: adopted the messages a dead worker held',
    )
    // kept (and read, so that JetStream does not remove it as idle) while adopted sessions hold some
    const emptied = new Promise<void>((resolve) => {
      empty = resolve
      if (held.size === 0) resolve()
    })
    void emptied.then(async () => {
      await reading.close().catch(() => {})
      if (!this.#closed) await this.#jsm.consumers.delete(QOS_STREAM, durable).catch(() => {})
      this.#o.log.info({ durable }, "cluster: a dead worker's consumer is done with")
    })
  }

  /**
   * A message from a dead worker's consumer, to the adopted sessions it matches; returns how many
   * took it. `maybeSent`: per session, how many more of them may have been sent to its client.
   */
  #deliverAdopted(m: JsMsg, adopted: Session[], hold: AckHold, maybeSent: Map<Session, number>): number {
    const message = messageFrom(m.subject.slice(QOS_PREFIX.length), new Uint8Array(m.data), m.headers)
    let count = 0
    for (const session of adopted) {
      // ended, or moved on: what the new holder has came with it
      if (this.#o.session(session.clientId) !== session) continue
      // The dead worker sent a session's messages in the order its consumer read them, so what it held
      // comes again in that order, and only the oldest, up to the session's in-flight window, may have
      // been sent: those go with DUP 1 [3.1.1 MQTT-4.4.0-1] [5.0 MQTT-4.4.0-1], the rest were only queued
      // and go with DUP 0, a first attempt [3.1.1 MQTT-3.3.1-3] [5.0 MQTT-3.3.1-3]
      const left = maybeSent.get(session) ?? 0
      const dup = m.info.redelivered && left > 0
      if (this.#deliverTo(session, message, hold, undefined, dup)) {
        count++
        if (dup) maybeSent.set(session, left - 1)
      }
    }
    return count
  }

  /** Another worker of this node is about to take an adopted session: answers once the adoption delivered to it. */
  async #onSettle(m: Msg): Promise<void> {
    const adopting = this.#adopting.get(m.string())
    if (adopting !== undefined) await Promise.race([adopting, pause(ADOPT_TAKE_WAIT_MS)])
    m.respond()
  }

  async #onTake(m: Msg): Promise<void> {
    let answer: { found: boolean; snapshot?: SessionSnapshot }
    try {
      const { clientId, resume, from } = deserialize(m.data) as {
        clientId: string
        resume: boolean
        from?: number
      }
      // the waits below together stay within the asking worker's TAKE_TIMEOUT_MS
      const deadline = Date.now() + ADOPT_TAKE_WAIT_MS
      // adopted from a dead worker: the messages it held come along once they are here
      const adopting = this.#adopting.get(clientId)
      if (adopting !== undefined) await Promise.race([adopting, pause(ADOPT_TAKE_WAIT_MS)])
      // still catching up after its own move: what that brings comes along
      const catching = this.#catching.get(clientId)
      if (catching !== undefined) {
        await Promise.race([catching.done, pause(deadline - Date.now())])
        this.#doneCatchingUp(catching)
      }
      // the new worker keeps what it reads from `from` on: this one delivers up to there at least
      if (resume && from !== undefined) await this.#reach(from, deadline)
      const snapshot = this.#o.giveUp(clientId, resume)
      if (snapshot !== undefined && snapshot !== null)
        snapshot.stream = {
          seq: this.#recovery.position.seq,
          node: this.#node,
          link: this.#link,
          worker: this.#o.workerId,
          cut: [...this.#routedUpTo],
        }
      answer =
        snapshot === undefined
          ? { found: false }
          : snapshot === null
            ? { found: true }
            : { found: true, snapshot }
    } catch (err) {
      this.#o.log.error({ err }, 'cluster: session hand-over failed')
      answer = { found: false }
    }
    m.respond(serialize(answer))
  }

  /**
   * Resolves once this worker's consumer handled stream sequence `seq`, and
   * the routing here took up this node's own messages whose stream copies it
   * read first (the port was slower than NATS): the session's snapshot then
   * holds every message up to `seq`, and the mark says which of this node's
   * own it holds. Until `deadline` at most.
   */
  async #reach(seq: number, deadline: number): Promise<void> {
    while (this.#recovery.position.seq < seq && !this.#closed && Date.now() < deadline) await pause(2)
    const early = [...this.#early.keys()]
    while (early.some((id) => this.#early.has(id)) && !this.#closed && Date.now() < deadline) await pause(2)
    if (Date.now() >= deadline)
      this.#o.log.warn(
        { seq, at: this.#recovery.position.seq },
        'cluster: giving a session up before reading as far as its new worker; messages between may be missing',
      )
  }

  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    this.#stream.close()
    clearInterval(this.#earlySweep)
    clearTimeout(this.#deadSweep)
    clearInterval(this.#sharedRefresh)
    try {
      await this.#plain.close()
      // a worker that leaves in order takes its consumer along: the stream keeps nothing for it
      await this.#jsm.consumers.delete(QOS_STREAM, workerConsumer(this.#node, this.#link))
      await this.#nc.drain()
    } catch {
      await this.#nc.close()
    }
  }
}
