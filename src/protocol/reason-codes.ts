/**
 * Reason codes across protocol versions and packets: the MQTT 3.1.1 CONNACK
 * return code of a v5 refusal where one exists (MQTT 5 spec, table 3-1 vs
 * 3.1.1 table 3.1), and the CONNACK-fit code of a DISCONNECT-only one.
 */
import { ReasonCode } from '../mqtt/reason-codes.ts'

const v3ConnackCodes = new Map<number, number>([
  [ReasonCode.unsupportedProtocolVersion, 0x01],
  [ReasonCode.clientIdentifierNotValid, 0x02],
  [ReasonCode.serverUnavailable, 0x03],
  [ReasonCode.serverBusy, 0x03],
  [ReasonCode.unspecifiedError, 0x03],
  [ReasonCode.implementationSpecificError, 0x03],
  [ReasonCode.badUserNameOrPassword, 0x04],
  [ReasonCode.badAuthenticationMethod, 0x04],
  [ReasonCode.notAuthorized, 0x05],
  [ReasonCode.quotaExceeded, 0x03],
  [ReasonCode.connectionRateExceeded, 0x03],
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
  return reasonCode === ReasonCode.serverShuttingDown
    ? ReasonCode.serverUnavailable
    : ReasonCode.unspecifiedError
}
