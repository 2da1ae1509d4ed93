import { connectRefusal } from '../connection/connect-refusal.ts'
import type { Connection } from '../connection/connection.ts'
import type { ProtocolHost } from './host.ts'

/**
 * A CONNECT failed to parse but named a protocol version: answers with the
 * refusing CONNACK its error calls for (see connect-refusal.ts), in that
 * version's format, as the connection's last packet. False when the error
 * calls for none (the connection is then just closed).
 */
export function refuseMalformedConnect(r: ProtocolHost, connection: Connection, err: Error): boolean {
  const refusal = connectRefusal(err)
  if (refusal === undefined || r.state.phase !== 'awaiting-connect' || r.manualAcks) return false
  r.clearConnectTimer()
  r.state.connackSent = true
  connection.setOptions({ protocolVersion: refusal.protocolVersion })
  r.writeFinal(
    refusal.protocolVersion === 5
      ? { cmd: 'connack', reasonCode: refusal.code, sessionPresent: false }
      : { cmd: 'connack', returnCode: refusal.code, sessionPresent: false },
  )
  return true
}
