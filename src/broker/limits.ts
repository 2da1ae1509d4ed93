/**
 * What one client may make the broker hold, and which topics a client may
 * publish to: topic length and depth, subscriptions per client and per
 * server, and the reserved `$` topics. Without these, any client allowed to
 * connect can grow a worker's heap until it dies (200,000 filters from one
 * client cost about 0.5 GB). Each check answers with the reason it refused,
 * which is also the label its refusal is counted under.
 */
import { matchesFilter } from '../protocol/topic.ts'

/** The server config's `limits` the broker enforces (see src/config/schema.ts). */
export interface BrokerLimits {
  /** Subscriptions one session may hold; a new filter beyond is refused with 0x97 (3.1.1: 0x80). */
  maxSubscriptionsPerClient: number
  /** Subscriptions all sessions of the server may hold together (every worker). */
  maxSubscriptions: number
  /** Longest topic name or filter, in UTF-8 bytes. */
  maxTopicLength: number
  /** Most levels (`/`-separated parts) in a topic name or filter. */
  maxTopicLevels: number
}

export const defaultBrokerLimits: BrokerLimits = {
  maxSubscriptionsPerClient: 1000,
  maxSubscriptions: 1_000_000,
  maxTopicLength: 1024,
  maxTopicLevels: 128,
}

/** Why the broker refused a PUBLISH, a will or a subscription: the `reason` label of its counter. */
export type RefusalReason =
  | 'reserved_topic'
  | 'topic_too_long'
  | 'topic_too_deep'
  | 'client_subscription_quota'
  | 'server_subscription_quota'

export const refusalReasons: readonly RefusalReason[] = [
  'reserved_topic',
  'topic_too_long',
  'topic_too_deep',
  'client_subscription_quota',
  'server_subscription_quota',
]

/**
 * Whether a topic name or filter (a `$share/group/` prefix included) is within
 * the length and depth limits; the reason when it is not.
 */
export function topicProblem(topic: string, limits: BrokerLimits): RefusalReason | undefined {
  const max = limits.maxTopicLength
  // UTF-8 never takes fewer bytes than UTF-16 code units, nor more than three per unit
  if (topic.length > max || (topic.length * 3 > max && Buffer.byteLength(topic) > max))
    return 'topic_too_long'
  let levels = 1
  for (let i = topic.indexOf('/'); i !== -1; i = topic.indexOf('/', i + 1)) {
    if (++levels > limits.maxTopicLevels) return 'topic_too_deep'
  }
  return undefined
}

const allowMark = Symbol.for('mqttd.allowReservedTopic')

/**
 * Lets one PUBLISH (or a CONNECT's will) reach a topic beginning with `$`,
 * which the broker otherwise refuses from clients. Call it from an `onPublish`
 * (or `onConnect`, passing `packet.will`) hook of a handler placed before the
 * broker. The mark is a registered symbol, so it works across copies of mqttd.
 *
 * @example
 * onPublish(ctx, packet) {
 *   if (packet.topic.startsWith('$app/') && ctx.state.admin === true) allowReservedTopic(packet)
 * }
 */
export function allowReservedTopic(target: object): void {
  ;(target as Record<symbol, unknown>)[allowMark] = true
}

/**
 * Whether a client may publish to `topic`: anything not beginning with `$`;
 * a `$` topic only when a handler allowed this packet ({@link allowReservedTopic})
 * or it matches one of `allowed` (the broker option `allowReservedPublish`).
 * `$` topics are the server's: `$SYS/…` carries its statistics, and wildcard
 * subscriptions never match them [3.1.1 MQTT-4.7.2-1] [5.0 MQTT-4.7.2-1], so a client's publish there
 * would pose as the server's.
 */
export function mayPublishTo(topic: string, source: object, allowed: readonly string[]): boolean {
  if (topic.charCodeAt(0) !== 0x24 /* $ */) return true
  if ((source as Record<symbol, unknown>)[allowMark] === true) return true
  for (const filter of allowed) if (matchesFilter(filter, topic)) return true
  return false
}

/** What the subscription quota needs to know about the server's subscriptions. */
export interface SubscriptionCounts {
  /** Subscriptions held by this worker's sessions. */
  readonly local: number
  /** Subscriptions the other workers announced. */
  readonly remote: number
}

/**
 * Whether a session holding `held` subscriptions may add a new one. The
 * server-wide count is this worker's plus what the others announced: it can
 * lag by the subscriptions in flight between workers, so concurrent
 * SUBSCRIBEs on several workers may overshoot the cap by that much.
 */
export function subscriptionQuotaProblem(
  held: number,
  counts: SubscriptionCounts,
  limits: BrokerLimits,
): RefusalReason | undefined {
  if (held >= limits.maxSubscriptionsPerClient) return 'client_subscription_quota'
  if (counts.local + counts.remote >= limits.maxSubscriptions) return 'server_subscription_quota'
  return undefined
}
