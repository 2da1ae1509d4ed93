/**
 * Every error mqttd raises, in one table. A code never changes meaning once
 * released; docs/errors.md is generated from this table.
 *
 * Errors cross thread boundaries as plain `{ code, message }` (see
 * {@link toPlainError}) and are rebuilt here with {@link fromPlainError}.
 */

import { ReasonCode } from './mqtt/reason-codes.ts'

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
    solve:
      'Install Node >= 26.6 (or >= 24.20 on 24.x) and run mqttd with it. In a clone of the repository, npm start / npm test use the Node 26 that `npm ci` installs on Linux x64.',
  },
  MQTTD_ERR_PACKET_TOO_LARGE: {
    message: 'Packet of %s bytes exceeds the maximum packet size of %s bytes',
    solve: 'Raise limits.maxPacketSize (or the Connection maxPacketSize option) or send smaller packets.',
    reasonCode: ReasonCode.packetTooLarge,
  },
  MQTTD_ERR_MALFORMED_PACKET: {
    message: 'Malformed packet: %s',
    solve: 'The peer sent bytes that are not valid MQTT for the negotiated protocol version.',
    reasonCode: ReasonCode.malformedPacket,
  },
  MQTTD_ERR_PROTOCOL_ERROR: {
    message: 'Protocol error: %s',
    solve: 'The peer broke an MQTT rule (e.g. a second CONNECT); fix the client.',
    reasonCode: ReasonCode.protocolError,
  },
  MQTTD_ERR_INVALID_PACKET: {
    message: '%s',
    solve: "Fix the send method's fields; the message is mqtt-packet's own, `err.cmd` names the packet type.",
  },
  MQTTD_ERR_CONNECTION_DESTROYED: {
    message: 'Cannot write %s: the connection is destroyed',
    solve: 'Stop sending after close; listen for the close event.',
  },
  MQTTD_ERR_CONFIG_READ: {
    message: 'Cannot read config file %s: %s',
    solve: 'Check the --config path and the file permissions.',
  },
  MQTTD_ERR_CONFIG_PARSE: {
    message: 'Cannot parse config file %s: %s',
    solve: 'The file must be valid YAML (.yaml/.yml) or JSON (.json); fix the syntax at the position given.',
  },
  MQTTD_ERR_CONFIG_INVALID: {
    message: 'Invalid configuration%s:\n%s',
    solve: 'Fix each listed key; `mqttd --print-config` shows the effective config with defaults.',
  },
  MQTTD_ERR_TLS_FILE: {
    message: 'Cannot read TLS %s for listener %s: %s',
    solve: 'Check the key/cert/ca paths of the listener (relative paths are relative to the config file).',
  },
  MQTTD_ERR_LISTEN: {
    message: 'Cannot listen for listener %s on %s: %s',
    solve: 'Choose a free port and an address of this host, or stop the process holding the port.',
  },
  MQTTD_ERR_HANDLER_LOAD: {
    message: 'Cannot load handler module %s: %s',
    solve:
      'Check the path (relative to the config file) or install the package; the module must import cleanly.',
  },
  MQTTD_ERR_HANDLER_SHAPE: {
    message: 'Handler module %s is not a valid handler: %s',
    solve:
      "Default-export `defineHandler({ ...hooks })` or `defineHandler((options, worker) => hooks)` from 'mqttd'.",
  },
  MQTTD_ERR_HANDLER_INIT: {
    message: 'Handler %s failed to initialise in a worker: %s',
    solve: 'Fix the handler factory or its init() hook; the error is shown with it.',
  },
  MQTTD_ERR_WORKER_START: {
    message: 'Workers did not become ready: %s',
    solve:
      'Look at the worker errors logged before this one; a handler init that never settles also causes this.',
  },
  MQTTD_ERR_HOOK_FAILED: {
    message: 'Hook %s of handler %s failed: %s',
    solve: 'Fix the handler; only the connection that ran the hook was closed.',
    reasonCode: ReasonCode.implementationSpecificError,
  },
  MQTTD_ERR_HOOK_TIMEOUT: {
    message: 'Hook %s of handler %s did not settle within %s ms',
    solve: 'Make the hook faster or raise limits.hookTimeoutMs.',
    reasonCode: ReasonCode.implementationSpecificError,
  },
  MQTTD_ERR_CONNECT_TIMEOUT: {
    message: 'No CONNECT within %s ms',
    solve:
      'The client opened a connection but never sent CONNECT; raise limits.connectTimeoutMs for slow clients.',
  },
  MQTTD_ERR_KEEPALIVE_TIMEOUT: {
    message: 'Nothing received within 1.5 x keepalive (%s s)',
    solve: 'The client stopped sending PINGREQ; check its network or keepalive setting.',
    reasonCode: ReasonCode.keepAliveTimeout,
  },
  MQTTD_ERR_RECEIVE_MAXIMUM: {
    message: 'The client exceeded the Receive Maximum of %s',
    solve:
      'The client sent more unacknowledged QoS 1/2 PUBLISH packets than the server allows; fix the client.',
    reasonCode: ReasonCode.receiveMaximumExceeded,
  },
  MQTTD_ERR_TOPIC_ALIAS_INVALID: {
    message: 'Invalid topic alias %s (Topic Alias Maximum %s)',
    solve:
      'The client used topic alias 0 or one above the Topic Alias Maximum sent in CONNACK; fix the client.',
    reasonCode: ReasonCode.topicAliasInvalid,
  },
  MQTTD_ERR_CLI_USAGE: {
    message: 'Invalid command line: %s',
    solve: 'Run `mqttd --help` for the options.',
  },
  MQTTD_ERR_BROKER_OPTIONS: {
    message: 'Invalid broker options: %s',
    solve:
      'Fix the `broker:` section of the config; docs/broker-design.md lists each option, its type and default.',
  },
  MQTTD_ERR_ADMIN_UNAUTHORIZED: {
    message: 'Missing or wrong bearer token',
    solve: 'Send `Authorization: Bearer <admin.token>` with every admin request except /healthz.',
  },
  MQTTD_ERR_ADMIN_NOT_READY: {
    message: 'Not ready: %s',
    solve: 'Wait: the server is starting (listeners binding, workers loading) or draining for shutdown.',
  },
  MQTTD_ERR_ADMIN_CLIENT_NOT_FOUND: {
    message: 'No connected client with id %s',
    solve:
      'List the connected clients with GET /connections?clientId=<id>; the client may have gone already.',
  },
  MQTTD_ERR_ADMIN_BAD_REQUEST: {
    message: 'Bad request: %s',
    solve:
      'Check the query string and path against the route schema (GET /connections?limit=1..1000&cursor=&clientId=).',
  },
  MQTTD_ERR_ADMIN_ROUTE_NOT_FOUND: {
    message: 'No admin route %s %s',
    solve:
      'GET / lists every admin route (/metrics, /healthz, /readyz, /workers, /connections, /status, /rates, /config, the status page at /ui/ unless admin.ui is false).',
  },
  MQTTD_ERR_ADMIN_BACKEND: {
    message: 'Admin request failed: %s',
    solve: 'A worker did not answer or failed; see the server log for the cause and retry.',
  },
  MQTTD_ERR_AUTH_REQUIRED: {
    message: 'Listener %s binds %s without authentication',
    solve:
      'Set auth.passwordFile (a mosquitto_passwd or `mqttd passwd` file), bind the listener to a loopback address, or set auth.allowAnonymous: true to accept anonymous clients on it explicitly.',
  },
  MQTTD_ERR_ADMIN_TOKEN_REQUIRED: {
    message: 'The admin API binds %s without a token',
    solve:
      'Set admin.token (or MQTTD_ADMIN_TOKEN), bind admin.host to a loopback address, or set admin.allowNoToken: true to serve it without a token explicitly.',
  },
  MQTTD_ERR_AUTH_FILE: {
    message: 'Cannot use %s %s: %s',
    solve:
      'Check the path (relative paths are relative to the config file) and the file: `username:$7$…` lines for a password file (mosquitto_passwd or `mqttd passwd`), `user`/`topic`/`pattern` lines for an ACL file.',
  },
  MQTTD_ERR_RELOAD: {
    message: 'Reload refused, the running configuration stays: %s',
    solve: 'Fix the config file (see the errors listed), then send SIGHUP or POST /reload again.',
  },
  MQTTD_ERR_STORE_DIR: {
    message: 'Persistence directory %s is not usable: %s',
    solve:
      'Create the directory or fix its permissions so the server user can write it (persistence.dir, env MQTTD_PERSISTENCE_DIR), or set `persistence: false` for memory-only mode.',
  },
  MQTTD_ERR_STORE_CORRUPT: {
    message: 'Persistent store %s cannot be opened: %s',
    solve:
      'The file is damaged or not an mqttd database. Stop mqttd, move the file and its -wal/-shm files aside (keep them for inspection or `sqlite3 FILE .recover`), then start again with an empty store, or restore a backup.',
  },
  MQTTD_ERR_PROXY_HEADER: {
    message: 'PROXY protocol header refused on listener %s (from %s): %s',
    solve:
      'The listener has proxyProtocol: true, so every connection must start with a PROXY v1/v2 header: make the load balancer send one (HAProxy: send-proxy or send-proxy-v2 on the server line) and let only it reach this port, or set proxyProtocol: false for direct clients.',
  },
  MQTTD_ERR_STORE_LOCKED: {
    message: 'Persistent store %s is in use: %s',
    solve:
      'Another mqttd process uses this persistence directory: stop it, or give this server its own persistence.dir. A lock left by a process that no longer runs is taken over automatically.',
  },
  MQTTD_ERR_CLUSTER_CONNECT: {
    message: 'Cannot reach NATS at %s within %s ms: %s',
    solve:
      'Start nats-server with JetStream (`nats-server -js`), check cluster.nats.servers and the credentials (user/pass, token, tls), or raise cluster.nats.connectTimeoutMs. Without a `cluster:` section mqttd runs as a single node.',
  },
  MQTTD_ERR_CLUSTER_SETUP: {
    message: 'NATS at %s cannot hold the cluster state: %s',
    solve:
      'mqttd needs JetStream (streams and key-value buckets): run nats-server with `-js` and a store directory (`-sd`), and give the NATS user the permissions for $JS.API.>.',
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
    return (
      typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[kMqttdError] === true
    )
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
