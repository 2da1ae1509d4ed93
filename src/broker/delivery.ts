/**
 * How a message reaches one client: the subscriptions it matched merged into
 * one delivery, at the QoS and with the RETAIN flag and identifiers the
 * spec asks for.
 */
import type { BrokerMessage, QoS } from './message.ts'
import type { Delivery, Session, Subscription } from './session.ts'

/** One client's merged view of the subscriptions a message matched. */
export interface Merge {
  session: Session | undefined
  qos: QoS
  rap: boolean
  ids: number[] | undefined
}

export function idsOf(sub: Subscription): number[] | undefined {
  return sub.subscriptionId === undefined ? undefined : [sub.subscriptionId]
}

/** Adds one matching subscription of `clientId` to `into`. */
export function merge(
  into: Map<string, Merge>,
  clientId: string,
  session: Session | undefined,
  sub: Subscription,
): void {
  const seen = into.get(clientId)
  if (seen === undefined) {
    into.set(clientId, { session, qos: sub.qos, rap: sub.rap, ids: idsOf(sub) })
    return
  }
  // Overlapping subscriptions: one copy at the highest QoS [3.1.1 MQTT-3.3.5-1] [5.0 MQTT-3.3.4-2], with every identifier [5.0 MQTT-3.3.4-3]
  if (sub.qos > seen.qos) seen.qos = sub.qos
  if (sub.rap) seen.rap = true
  if (sub.subscriptionId !== undefined) {
    if (seen.ids === undefined) seen.ids = [sub.subscriptionId]
    else seen.ids.push(sub.subscriptionId)
  }
}

export function deliveryFor(message: BrokerMessage, m: Pick<Merge, 'qos' | 'rap' | 'ids'>): Delivery {
  return {
    message,
    qos: Math.min(message.qos, m.qos) as QoS,
    // v3.1.1: RETAIN 0 on forwarded messages [3.1.1 MQTT-3.3.1-9]; v5: as published when asked [5.0 MQTT-3.3.1-12] [5.0 MQTT-3.3.1-13]
    retain: m.rap && message.retain,
    subscriptionIds: m.ids,
  }
}

/** The delivery for one subscription alone (a share group member). */
export function deliveryForSub(message: BrokerMessage, sub: Subscription): Delivery {
  return {
    message,
    qos: Math.min(message.qos, sub.qos) as QoS,
    // as in deliveryFor [3.1.1 MQTT-3.3.1-9] [5.0 MQTT-3.3.1-12] [5.0 MQTT-3.3.1-13]
    retain: sub.rap && message.retain,
    subscriptionIds: idsOf(sub),
  }
}
