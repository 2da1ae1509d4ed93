import { MqttdError } from '../errors.ts'

/** An outgoing packet mqtt-packet refused: mqtt-connection's message, mqttd's code and packet type. */
export interface GenerateError extends MqttdError {
  readonly code: 'MQTTD_ERR_INVALID_PACKET'
  /** The packet type that could not be generated. */
  readonly cmd: string
  /** mqtt-packet's own Error (its message is this error's message). */
  readonly cause: Error
}

/**
 * Builds the error for a packet that cannot be generated. The message is
 * mqtt-packet's, byte for byte, because that is what mqtt-connection 4.1.0
 * surfaces and code written for it compares `err.message`; the rest of what
 * mqttd knows goes on the object (`code`, `cmd`, `cause`).
 */
export function generateError(cmd: unknown, cause: Error | null): GenerateError {
  // `userProperties: {}` and the like: mqtt-packet returns false without an error (mqtt-connection stalls)
  const reason = cause ?? new Error('invalid properties')
  const err = new MqttdError('MQTTD_ERR_INVALID_PACKET', reason.message, { cause: reason })
  Object.defineProperty(err, 'cmd', { value: String(cmd), enumerable: true })
  return err as GenerateError
}
