/**
 * MQTT 5 reason codes the framework sends, and their MQTT 3.1.1 CONNACK
 * return-code equivalents where one exists (MQTT 5 spec, table 3-1 vs
 * 3.1.1 table 3.1).
 */

export const Reason = {
  success: 0x00,
  unspecified: 0x80,
  malformed: 0x81,
  protocolError: 0x82,
  implementationSpecific: 0x83,
  unsupportedProtocolVersion: 0x84,
  clientIdNotValid: 0x85,
  badUserNameOrPassword: 0x86,
  notAuthorized: 0x87,
  serverUnavailable: 0x88,
  serverBusy: 0x89,
  badAuthenticationMethod: 0x8c,
  topicFilterInvalid: 0x8f,
  topicNameInvalid: 0x90,
  keepAliveTimeout: 0x8d,
  serverShuttingDown: 0x8b,
  packetIdNotFound: 0x92,
  receiveMaximumExceeded: 0x93,
  topicAliasInvalid: 0x94,
  packetTooLarge: 0x95,
  administrativeAction: 0x98,
  continueAuthentication: 0x18,
  reAuthenticate: 0x19,
} as const

const v3ConnackCodes = new Map<number, number>([
  [Reason.unsupportedProtocolVersion, 0x01],
  [Reason.clientIdNotValid, 0x02],
  [Reason.serverUnavailable, 0x03],
  [Reason.serverBusy, 0x03],
  [Reason.unspecified, 0x03],
  [Reason.implementationSpecific, 0x03],
  [Reason.badUserNameOrPassword, 0x04],
  [Reason.badAuthenticationMethod, 0x04],
  [Reason.notAuthorized, 0x05],
  [0x97, 0x03], // quota exceeded
  [0x9f, 0x03], // connection rate exceeded
])

/** The 3.1.1 CONNACK return code for a v5 refusal code, or undefined when 3.1.1 has none (close instead). */
export function v3ConnackCode(reasonCode: number): number | undefined {
  return v3ConnackCodes.get(reasonCode)
}

// reason codes a v5 CONNACK may carry (MQTT 5, 3.2.2.2)
const connackCodes = new Set([
  0x80, 0x81, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89, 0x8a, 0x8c, 0x90, 0x95, 0x97, 0x99, 0x9a, 0x9b,
  0x9c, 0x9d, 0x9f,
])

/** A refusal code fit for CONNACK: DISCONNECT-only codes (0x8B shutting down, 0x98 administrative, …) become 0x88 or 0x80. */
export function connackCode(reasonCode: number): number {
  if (connackCodes.has(reasonCode)) return reasonCode
  return reasonCode === Reason.serverShuttingDown ? Reason.serverUnavailable : Reason.unspecified
}
