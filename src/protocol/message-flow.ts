/**
 * PUBLISH, PUBREL, SUBSCRIBE and UNSUBSCRIBE from a connected client:
 * topic-alias resolution, the inbound QoS 1/2 flow with exactly-once for
 * QoS 2, Receive Maximum, and acknowledgements carrying the chain's outcome.
 */
import type {
  Packet,
  PublishPacket,
  PubrelPacket,
  SubscribePacket,
  UnsubscribePacket,
} from '../connection/types.ts'
import { mqttdError } from '../errors.ts'
import { ackWaitHandler, isAckWait } from '../handlers/ack-wait.ts'
import type { ChainOutcome } from '../handlers/chain.ts'
import { ReasonCode } from '../mqtt/reason-codes.ts'
import type { ProtocolHost } from './host.ts'
import { isValidTopicName, parseFilter } from './topic.ts'

/** PUBACKs that may wait at once for their commit before the connection stops reading. */
const maxPendingAcks = 1024

// PUBLISH packets that arrived beyond the Receive Maximum; packets are unique objects, so one set serves all connections
const overLimit = new WeakSet<Packet>()

/**
 * Called on arrival, before queueing: Receive Maximum is judged on what the
 * client sent before it could see our acknowledgements [5.0 MQTT-3.3.4-9].
 */
export function noteArrival(r: ProtocolHost, packet: PublishPacket): void {
  r.flow.arrived()
  const resend = packet.qos === 2 && r.flow.isDuplicate(packet.messageId!)
  if (!resend && r.flow.exceeded()) overLimit.add(packet)
}

/** Ends the connection for a broken protocol rule with `reasonCode` and its reason string (allowed on DISCONNECT [5.0 MQTT-3.1.2-29]). */
function ruleBroken(r: ProtocolHost, reasonCode: number, reasonString: string, what: string): void {
  r.state.closeError = mqttdError('MQTTD_ERR_PROTOCOL_ERROR', what)
  r.disconnectWith({ reasonCode, reasonString }, 'protocol-error')
}

function reasonProperties(r: ProtocolHost, outcome: ChainOutcome): { reasonString: string } | undefined {
  const text = outcome.reason?.reasonString
  return r.v5 && text !== undefined ? { reasonString: text } : undefined
}

export async function handlePublish(r: ProtocolHost, packet: PublishPacket): Promise<void> {
  // [5.0 MQTT-3.3.4-6] a Subscription Identifier is the server's to send: from a client it is a
  // protocol error (the codec accepts it, a client's Connection reads it from servers)
  if (r.v5 && packet.properties?.subscriptionIdentifier !== undefined) {
    return r.protocolError('PUBLISH from a client with a Subscription Identifier')
  }
  const alias = packet.properties?.topicAlias
  if (r.v5 && alias !== undefined) {
    const resolved = r.flow.resolveAlias(alias, packet.topic)
    if (!resolved.ok) {
      if (resolved.reason === 'unknown') return r.protocolError(`topic alias ${alias} was never set`)
      r.state.closeError = mqttdError('MQTTD_ERR_TOPIC_ALIAS_INVALID', alias, r.limits.topicAliasMaximum)
      return r.disconnectWith({ reasonCode: ReasonCode.topicAliasInvalid }, 'protocol-error')
    }
    packet.topic = resolved.topic
    delete packet.properties!.topicAlias
  } else if (packet.topic === '') {
    return r.protocolError('PUBLISH with an empty topic and no topic alias')
  }
  r.metrics.messageReceived(packet.qos)
  if (!isValidTopicName(packet.topic)) {
    // wildcards or U+0000 in a topic name [3.1.1 MQTT-3.3.2-2] [5.0 MQTT-3.3.2-2] [3.1.1 MQTT-4.7.3-2] [5.0 MQTT-4.7.3-2]: no handler sees it, broker or not
    const what = `PUBLISH to the invalid topic name ${JSON.stringify(packet.topic)}`
    return ruleBroken(r, ReasonCode.topicNameInvalid, 'Topic name invalid', what)
  }
  if (packet.qos === 0) {
    const outcome = await r.chain.decide('onPublish', r.ctx, packet)
    if ((outcome.reason?.reasonCode ?? 0) >= 0x80) r.metrics.messageDropped('hook_refused')
    return
  }
  const messageId = packet.messageId!
  if (packet.qos === 2 && r.flow.isDuplicate(messageId)) {
    // The first copy's PUBREC still waits: its outcome decides (a refused first copy makes this one new)
    if (r.flow.isReceiving(messageId)) {
      await r.acksSent()
      if (r.state.phase !== 'connected') return
    }
    if (r.flow.isDuplicate(messageId)) {
      // exactly once: acknowledge the re-send, never deliver it again [3.1.1 MQTT-4.3.3-2] [5.0 MQTT-4.3.3-10]
      r.flow.acknowledged()
      r.ack({ cmd: 'pubrec', messageId })
      return
    }
  }
  if (r.v5 && overLimit.has(packet)) {
    // [5.0 MQTT-3.3.4-9] more unacknowledged QoS>0 PUBLISH packets than Receive Maximum
    r.state.closeError = mqttdError('MQTTD_ERR_RECEIVE_MAXIMUM', r.limits.receiveMaximum)
    return r.disconnectWith({ reasonCode: ReasonCode.receiveMaximumExceeded }, 'protocol-error')
  }
  const decided = r.chain.decide('onPublish', r.ctx, packet)
  if (isAckWait(decided)) {
    // Decided and routed: the next packets are read while this PUBACK / PUBREC waits (its commit groups
    // with theirs); it still leaves in order [3.1.1 MQTT-4.6.0-2] [5.0 MQTT-4.6.0-2]. Bounded: a client
    // that never waits for its acknowledgements is read no further until they are out. A QoS 2 id counts
    // as received from here, so a re-send read before the PUBREC is not routed again.
    if (packet.qos === 2) r.flow.receiving(messageId)
    r.ackWhen(
      decided as Promise<ChainOutcome>,
      (outcome) => acknowledge(r, packet, outcome),
      ackWaitHandler(decided),
    )
    if (r.pendingAcks >= maxPendingAcks) await r.acksSent()
    return
  }
  acknowledge(r, packet, await decided)
}

/** PUBACK or PUBREC for a QoS 1/2 PUBLISH, carrying the chain's outcome. */
function acknowledge(r: ProtocolHost, packet: PublishPacket, outcome: ChainOutcome): void {
  if (r.state.phase !== 'connected') return
  const messageId = packet.messageId!
  const code = outcome.reason?.reasonCode ?? 0
  if (code >= 0x80) r.metrics.messageDropped('hook_refused')
  const ack = r.v5 ? { messageId, reasonCode: code, properties: reasonProperties(r, outcome) } : { messageId }
  if (packet.qos === 1) {
    r.flow.acknowledged()
    r.ack({ cmd: 'puback', ...ack }) // [3.1.1 MQTT-4.3.2-2] [5.0 MQTT-4.3.2-4]
  } else {
    if (r.flow.isReceiving(messageId)) r.flow.settled(messageId, code < 0x80)
    else if (code >= 0x80) r.flow.acknowledged()
    else r.flow.received(messageId)
    r.ack({ cmd: 'pubrec', ...ack }) // [3.1.1 MQTT-4.3.3-2] [5.0 MQTT-4.3.3-8]
  }
}

/** [3.1.1 MQTT-4.3.3-2] [5.0 MQTT-4.3.3-11] PUBCOMP for a released id; v5 0x92 when it was not awaiting release. */
export async function handlePubrel(r: ProtocolHost, packet: PubrelPacket): Promise<void> {
  const known = r.flow.released(packet.messageId!)
  // A handler that stored the id commits its release before the client may reuse it
  if (known && r.chain.has('onRelease')) {
    await r.chain.notify('onRelease', r.ctx, packet)
    if (r.state.phase !== 'connected') return
  }
  r.ack({
    cmd: 'pubcomp',
    messageId: packet.messageId,
    ...(r.v5 && !known ? { reasonCode: ReasonCode.packetIdentifierNotFound } : {}),
  })
}

export async function handleSubscribe(r: ProtocolHost, packet: SubscribePacket): Promise<void> {
  const granted = packet.subscriptions.map((s) => s.qos as number)
  for (let i = 0; i < granted.length; i++) {
    const s = packet.subscriptions[i]!
    const parsed = parseFilter(s.topic)
    // an invalid filter is refused before any handler [3.1.1 MQTT-4.7.1-2] [5.0 MQTT-4.7.1-1] [3.1.1 MQTT-4.7.1-3] [5.0 MQTT-4.7.1-2] [5.0 MQTT-4.8.2-1] [5.0 MQTT-4.8.2-2]
    if (parsed === undefined) granted[i] = r.v5 ? ReasonCode.topicFilterInvalid : 0x80
    else if (r.v5 && parsed.group !== undefined && s.nl === true) {
      // No Local on a shared subscription is a protocol error [5.0 MQTT-3.8.3-4]
      const what = `SUBSCRIBE with No Local on the shared subscription ${JSON.stringify(s.topic)}`
      return ruleBroken(r, ReasonCode.protocolError, 'No Local on a shared subscription', what)
    }
  }
  const outcome = await r.chain.decide('onSubscribe', r.ctx, packet, granted)
  if (r.state.phase !== 'connected') return
  const code = outcome.reason?.reasonCode ?? 0
  if (code >= 0x80) granted.fill(code)
  // 3.1.1 has one failure code, 0x80 [3.1.1 MQTT-3.9.3-2]
  if (!r.v5) for (let i = 0; i < granted.length; i++) if (granted[i]! >= 0x80) granted[i] = 0x80
  const properties = reasonProperties(r, outcome)
  r.ack({ cmd: 'suback', messageId: packet.messageId, granted, properties }) // [3.1.1 MQTT-3.8.4-1] [5.0 MQTT-3.8.4-1]
  if (r.logDebug) {
    const filters = packet.subscriptions.map((s) => ({ topic: s.topic, qos: s.qos }))
    r.ctx.log.debug({ filters, granted }, 'subscribe')
  }
  await r.chain.notify('onSubscribed', r.ctx, packet, granted)
}

export async function handleUnsubscribe(r: ProtocolHost, packet: UnsubscribePacket): Promise<void> {
  // v5: an invalid filter gets 0x8F before any handler sees it (3.1.1 UNSUBACK has no codes)
  const reasonCodes = packet.unsubscriptions.map((f): number =>
    r.v5 && parseFilter(f) === undefined ? ReasonCode.topicFilterInvalid : 0,
  )
  const outcome = await r.chain.decide('onUnsubscribe', r.ctx, packet, reasonCodes)
  if (r.state.phase !== 'connected') return
  const code = outcome.reason?.reasonCode ?? 0
  if (code >= 0x80) reasonCodes.fill(code)
  if (r.logDebug) r.ctx.log.debug({ filters: packet.unsubscriptions, reasonCodes }, 'unsubscribe')
  if (r.v5) {
    const properties = reasonProperties(r, outcome)
    r.ack({ cmd: 'unsuback', messageId: packet.messageId, granted: reasonCodes, properties })
  } else {
    r.ack({ cmd: 'unsuback', messageId: packet.messageId }) // [3.1.1 MQTT-3.10.4-4] [5.0 MQTT-3.10.4-4]
  }
}
