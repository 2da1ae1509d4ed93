/**
 * CONNECT and authentication for one connection: client-id rules,
 * keepalive cap, the onConnect/onAuth chains (with v5 enhanced
 * authentication and re-authentication), CONNACK success or refusal.
 */
import type { AuthPacket, ConnectPacket, ProtocolVersion } from '../connection/types.ts'
import type { ChainOutcome } from '../handlers/chain.ts'
import type { ReasonResult } from '../handlers/types.ts'
import { ReasonCode } from '../mqtt/reason-codes.ts'
import type { ProtocolHost } from './host.ts'
import { v3ConnackCode } from './reason-codes.ts'
import { isValidTopicName } from './topic.ts'

let assignedIds = 0
// what a chain without hooks decides (never modified)
const noOutcome: ChainOutcome = Object.freeze({ reason: undefined, continueAuth: undefined })

/**
 * Not async, nor is the rest of the flow: with hooks that decide at once (the broker's, for a
 * session this worker holds or none) the CONNACK is written in the turn the CONNECT was read, with
 * no promise or async frame per connection; a promise comes back only while a hook's answer waits.
 */
export function handleConnect(r: ProtocolHost, packet: ConnectPacket): void | Promise<void> {
  r.clearConnectTimer()
  const ctx = r.ctx
  ctx.protocolVersion = packet.protocolVersion as ProtocolVersion
  ctx.connectPacket = packet
  ctx.clientId = packet.clientId
  r.state.phase = 'connecting'
  const props = packet.properties
  if (r.v5 && props?.maximumPacketSize !== undefined) r.state.maxOutgoingPacket = props.maximumPacketSize

  if (ctx.protocolVersion < 5 && packet.password !== undefined && packet.username === undefined) {
    // [3.1.1 MQTT-3.1.2-22] a password needs a user name before 5.0 (mqtt-packet parses it anyway): a
    // malformed CONNECT, closed without a CONNACK [3.1.1 MQTT-3.1.4-1]
    return r.protocolError('CONNECT with a password and no user name')
  }
  if (packet.clientId === '') {
    // [3.1.1 MQTT-3.1.3-8] 3.1.1: an empty client id needs CleanSession=1; 3.1 has no empty ids at all
    if (ctx.protocolVersion === 3 || (ctx.protocolVersion === 4 && !packet.clean)) {
      return refuse(r, { reasonCode: ReasonCode.clientIdentifierNotValid })
    }
    // [3.1.1 MQTT-3.1.3-6] [5.0 MQTT-3.1.3-6] the server assigns a unique id; v5 tells the client [5.0 MQTT-3.2.2-16]
    ctx.clientId = `mqttd-${ctx.workerId}-${Date.now().toString(36)}-${(++assignedIds).toString(36)}`
    if (r.v5) ctx.connack.properties.assignedClientIdentifier = ctx.clientId
  }
  r.state.keepaliveMs = packet.keepalive * 1000
  const cap = r.limits.maxKeepaliveSeconds
  if (cap > 0 && r.v5 && (packet.keepalive === 0 || packet.keepalive > cap)) {
    ctx.connack.properties.serverKeepAlive = cap // [5.0 MQTT-3.2.2-21]
    r.state.keepaliveMs = cap * 1000
  }
  if (r.v5 && props?.authenticationMethod !== undefined && !r.chain.has('onAuth')) {
    return refuse(r, { reasonCode: ReasonCode.badAuthenticationMethod })
  }
  if (packet.will !== undefined && !isValidTopicName(packet.will.topic)) {
    // [3.1.1 MQTT-3.1.3-10] [5.0 MQTT-3.1.3-11] the Will Topic is a topic name: no wildcards, no U+0000 [3.1.1 MQTT-3.3.2-2] [5.0 MQTT-3.3.2-2] [3.1.1 MQTT-4.7.3-2] [5.0 MQTT-4.7.3-2]
    return refuse(r, problem(r, ReasonCode.topicNameInvalid, 'Will topic invalid'))
  }
  if (!r.chain.has('onConnect')) return afterAuthStep(r, noOutcome)
  return decided(r, r.chain.decide('onConnect', ctx, packet))
}

/** Goes on with a decision: in this turn when it is a value, else once it settled. */
function decided(r: ProtocolHost, outcome: ChainOutcome | Promise<ChainOutcome>): void | Promise<void> {
  if (!(outcome instanceof Promise)) return afterAuthStep(r, outcome)
  return outcome.then((value) => afterAuthStep(r, value))
}

/** AUTH from the client: the next step of enhanced authentication, or re-authentication (v5 only). */
export function handleAuth(r: ProtocolHost, packet: AuthPacket): void | Promise<void> {
  if (!r.v5) return r.protocolError('AUTH on a protocol version before 5')
  if (r.state.phase === 'connected' && packet.reasonCode !== ReasonCode.reAuthenticate) {
    return r.protocolError('AUTH without re-authentication reason code')
  }
  return decided(r, r.chain.decide('onAuth', r.ctx, packet))
}

function afterAuthStep(r: ProtocolHost, outcome: ChainOutcome): void | Promise<void> {
  if (r.state.ending) return
  const refused = (outcome.reason?.reasonCode ?? 0) >= 0x80
  if (outcome.continueAuth !== undefined) {
    if (!r.v5) return refuse(r, { reasonCode: ReasonCode.protocolError })
    r.state.phase = r.state.wasConnected ? 'connected' : 'authenticating'
    r.write({ cmd: 'auth', reasonCode: ReasonCode.continueAuthentication, properties: outcome.continueAuth })
    return
  }
  if (r.state.wasConnected) {
    // re-authentication [5.0 MQTT-4.12.1-1]: AUTH 0x00 on success, DISCONNECT with the code on refusal
    if (refused) return r.disconnectWith(outcome.reason!, 'connect-refused')
    r.write({ cmd: 'auth', reasonCode: ReasonCode.success })
    return
  }
  if (refused) return refuse(r, outcome.reason!)
  return accept(r, outcome.reason)
}

function accept(r: ProtocolHost, reason: ReasonResult | undefined): void | Promise<void> {
  const ctx = r.ctx
  const packet = ctx.connectPacket!
  // [3.1.1 MQTT-3.2.2-1] [5.0 MQTT-3.2.2-1] [3.1.1 MQTT-3.2.2-2] [5.0 MQTT-3.2.2-2] a clean start never has a session present
  const sessionPresent = packet.clean || !ctx.connackShaped ? false : ctx.connack.sessionPresent
  if (r.v5) {
    const properties: Record<string, unknown> = {
      maximumPacketSize: r.limits.maxPacketSize,
      receiveMaximum: r.limits.receiveMaximum,
      topicAliasMaximum: r.limits.topicAliasMaximum,
      ...(ctx.connackShaped ? ctx.connack.properties : undefined),
    }
    if (reason?.reasonString !== undefined) properties.reasonString = reason.reasonString
    r.ack({ cmd: 'connack', reasonCode: ReasonCode.success, sessionPresent, properties })
  } else {
    r.ack({ cmd: 'connack', returnCode: 0, sessionPresent })
  }
  r.state.connackSent = true
  r.state.wasConnected = true
  r.state.phase = 'connected'
  // The resumed session's QoS 2 ids awaiting PUBREL stay exactly-once across connections [3.1.1 MQTT-4.3.3-2] [5.0 MQTT-4.3.3-10]
  const restored = ctx.restoredAwaitingRelease
  if (sessionPresent && restored !== undefined) r.flow.restore(restored)
  ctx.handshakeDone()
  // never the password: the connect packet is summarised field by field; its fields are built only
  // when the line is written (the level can change at a reload)
  if (r.rootLog.isLevelEnabled('info')) {
    r.rootLog.info(
      {
        conn: ctx.id,
        clientId: ctx.clientId,
        remote: ctx.remoteAddress,
        listener: ctx.listener,
        transport: ctx.transport,
        remotePort: ctx.remotePort,
        protocolVersion: ctx.protocolVersion,
        keepalive: r.state.keepaliveMs / 1000,
        cleanStart: packet.clean,
        username: packet.username,
      },
      'client connected',
    )
  }
  r.armKeepalive()
  if (r.chain.has('onConnected')) return r.chain.notifyNow('onConnected', ctx)
}

/** A refusal with its reason string unless the v5 client asked for none [5.0 MQTT-3.1.2-29]. */
function problem(r: ProtocolHost, reasonCode: number, reasonString: string): ReasonResult {
  const wants = r.v5 && r.ctx.connectPacket?.properties?.requestProblemInformation !== false
  return wants ? { reasonCode, reasonString } : { reasonCode }
}

/** Refuses the CONNECT with a CONNACK carrying `reason` (3.1.1: the mapped return code, if any), then closes. */
function refuse(r: ProtocolHost, reason: ReasonResult): void {
  r.metrics.connectionRejected(r.ctx.listener, 'auth_refused')
  sendConnackFailure(r, reason)
  r.terminate('connect-refused')
}

/** A failing CONNACK as the connection's last packet; 3.1.1 clients get it only when a return code exists. */
export function sendConnackFailure(r: ProtocolHost, reason: ReasonResult): void {
  r.state.connackSent = true
  // with manualAcks the handler answers CONNECT itself (maybe already): a second CONNACK breaks the protocol
  if (r.manualAcks) return
  if (r.v5) {
    const properties = reason.reasonString === undefined ? undefined : { reasonString: reason.reasonString }
    r.writeFinal({ cmd: 'connack', reasonCode: reason.reasonCode, sessionPresent: false, properties })
  } else {
    const code = v3ConnackCode(reason.reasonCode)
    if (code !== undefined) r.writeFinal({ cmd: 'connack', returnCode: code, sessionPresent: false })
  }
}
