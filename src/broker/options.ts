/**
 * The broker's options (the config's `broker:` section), validated and
 * completed with defaults. Every cap here bounds memory per client or per
 * worker; see docs/broker-design.md for what each one costs.
 */
import { type Static, Type } from '@sinclair/typebox'
import { Value } from '@sinclair/typebox/value'
import { mqttdError } from '../errors.ts'

const UINT32_MAX = 0xffffffff

export const brokerOptionsSchema = Type.Object(
  {
    maxQos: Type.Union([Type.Literal(0), Type.Literal(1), Type.Literal(2)], {
      default: 2,
      description: 'Highest QoS the broker accepts and grants (v5 CONNACK Maximum QoS when below 2).',
    }),
    retainAvailable: Type.Boolean({
      default: true,
      description: 'Whether retained messages are supported (v5 CONNACK Retain Available).',
    }),
    maxInflightMessages: Type.Integer({
      minimum: 1,
      maximum: 65535,
      default: 100,
      description:
        "Server-side cap on unacknowledged QoS 1/2 messages per client; the client's Receive Maximum lowers it.",
    }),
    maxQueuedMessages: Type.Integer({
      minimum: 0,
      default: 1000,
      description:
        'QoS 1/2 messages a session holds beyond the in-flight window (offline or slow); more are dropped.',
    }),
    queueHighWater: Type.Optional(
      Type.Integer({
        minimum: 0,
        description:
          'Queue length at which an online session holds back the acknowledgements of the QoS 1/2 publishes that reach it (publisher backpressure); 0: never. Default: half of maxQueuedMessages, at most 1000.',
      }),
    ),
    queueLowWater: Type.Optional(
      Type.Integer({
        minimum: 0,
        description:
          'Queue length at which the held-back publishes are acknowledged again. Default: half the high-water mark.',
      }),
    ),
    publishWaitMs: Type.Integer({
      minimum: 1,
      default: 2000,
      description:
        'Longest a publish waits for a congested session (then it is acknowledged anyway); also how long a congested session may go without acknowledging anything before it stops holding publishers back (stalled). Keep it below `limits.hookTimeoutMs`.',
    }),
    maxPendingWrites: Type.Integer({
      minimum: 1,
      default: 1000,
      description: 'Writes waiting on a slow socket beyond which QoS 0 messages to that client are dropped.',
    }),
    retained: Type.Object(
      {
        maxMessages: Type.Integer({
          minimum: 0,
          default: 100_000,
          description:
            'Most retained messages kept (each worker holds a copy); beyond it new ones are dropped and counted.',
        }),
        maxBytes: Type.Integer({
          minimum: 0,
          default: 192 * 1024 * 1024,
          description:
            'Most bytes of retained messages kept, per worker copy, each counted as topic + payload + properties + about 1.8 KB of measured per-entry overhead (about 100,000 small messages by default).',
        }),
      },
      { additionalProperties: false, default: {}, description: 'Limits of the retained-message store.' },
    ),
    maxSessionExpiryInterval: Type.Integer({
      minimum: 0,
      maximum: UINT32_MAX,
      default: UINT32_MAX,
      description: 'Cap on the session expiry interval in seconds (also bounds v3.1.1 persistent sessions).',
    }),
    maxSessionsPerWorker: Type.Integer({
      minimum: 1,
      default: 1_000_000,
      description:
        'Most sessions (online and offline) one worker holds; new ones beyond are refused with 0x97.',
    }),
    clusterTimeoutMs: Type.Integer({
      minimum: 1,
      default: 2000,
      description:
        "How long a worker waits for the others: a session hand-over on reconnect, a SUBSCRIBE's routing confirmation.",
    }),
    sysInterval: Type.Integer({
      minimum: 0,
      default: 10,
      description:
        'Seconds between updates of the `$SYS/broker/...` statistics (retained messages, published by the server); 0: no `$SYS` tree.',
    }),
    allowReservedPublish: Type.Array(Type.String({ minLength: 1, pattern: '^\\$' }), {
      default: [],
      description:
        'Topic filters beginning with `$` that clients may publish to (and name in a will); every other `$` topic is refused (v5 0x87). A handler may also allow one packet with `allowReservedTopic(packet)`.',
    }),
    channel: Type.Optional(
      Type.String({
        minLength: 1,
        description:
          'BroadcastChannel name prefix shared by the workers of one server; defaults from the instance id.',
      }),
    ),
  },
  { additionalProperties: false },
)

/** The options with the water marks resolved. */
export type BrokerOptions = Static<typeof brokerOptionsSchema> & {
  queueHighWater: number
  queueLowWater: number
}

/** Validates `raw` and fills defaults; throws MQTTD_ERR_BROKER_OPTIONS listing every problem. */
export function parseBrokerOptions(raw: Record<string, unknown> | undefined): BrokerOptions {
  const value = Value.Default(brokerOptionsSchema, structuredClone(raw ?? {}))
  if (!Value.Check(brokerOptionsSchema, value)) {
    const problems = [...Value.Errors(brokerOptionsSchema, value)].map((e) => `${e.path || '/'} ${e.message}`)
    throw mqttdError('MQTTD_ERR_BROKER_OPTIONS', problems.join('; '))
  }
  const high = value.queueHighWater ?? Math.min(1000, Math.ceil(value.maxQueuedMessages / 2))
  const low = value.queueLowWater ?? Math.floor(high / 2)
  if (high > value.maxQueuedMessages) {
    throw mqttdError('MQTTD_ERR_BROKER_OPTIONS', `/queueHighWater ${high} is above maxQueuedMessages`)
  }
  if (high > 0 && low >= high) {
    throw mqttdError('MQTTD_ERR_BROKER_OPTIONS', `/queueLowWater ${low} must be below queueHighWater ${high}`)
  }
  return { ...value, queueHighWater: high, queueLowWater: low }
}
