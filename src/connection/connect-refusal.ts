/**
 * A CONNECT the parser rejected but whose protocol version it knew: the
 * server answers with a refusing CONNACK before it closes, as the specs ask
 * for an unsupported protocol level ([3.1.1 MQTT-3.1.2-2] 0x01,
 * [5.0 MQTT-3.1.2-2] 0x84) or an ill-formed v5 client id (0x85).
 */
export interface ConnectRefusal {
  /** The CONNACK's format: 4 (return code) or 5 (reason code). */
  protocolVersion: 4 | 5
  /** Return code (v4 format) or reason code (v5 format). */
  code: number
}

const key = Symbol('mqttd.connectRefusal')

/** Marks a parse error of a CONNECT with the CONNACK it calls for. */
export function withConnectRefusal<E extends Error>(err: E, refusal: ConnectRefusal): E {
  Object.defineProperty(err, key, { value: refusal })
  return err
}

/** The CONNACK a parse error calls for (on the error or its cause), if any. */
export function connectRefusal(err: Error): ConnectRefusal | undefined {
  const own = (err as unknown as Record<symbol, ConnectRefusal | undefined>)[key]
  if (own !== undefined) return own
  const cause = err.cause
  return cause instanceof Error ? connectRefusal(cause) : undefined
}
