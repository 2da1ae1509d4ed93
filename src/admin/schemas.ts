/**
 * JSON schemas of the admin routes (TypeBox), so requests are validated,
 * responses serialised by fast-json-stringify, and `GET /` can describe the
 * whole API.
 */
import { Type } from '@sinclair/typebox'

export const errorSchema = Type.Object(
  {
    statusCode: Type.Integer(),
    code: Type.String({ description: 'A stable MQTTD_ERR_* code (see docs/errors.md).' }),
    message: Type.String(),
  },
  { description: 'Every admin error.' },
)

export const healthSchema = Type.Object({ status: Type.Literal('ok') })
export const readySchema = Type.Object({ status: Type.Literal('ready') })

export const workerSchema = Type.Object({
  id: Type.Integer({ description: 'Worker slot.' }),
  threadId: Type.Integer(),
  connections: Type.Integer({ minimum: 0 }),
  eventLoopUtilization: Type.Number({ minimum: 0, maximum: 1 }),
  restarts: Type.Integer({ minimum: 0 }),
  responding: Type.Optional(
    Type.Boolean({ description: 'False: no answer in time; last known figures shown.' }),
  ),
})
export const workersSchema = Type.Object({ workers: Type.Array(workerSchema) })

export const connectionSchema = Type.Object({
  clientId: Type.String(),
  workerId: Type.Integer({ description: 'threadId of the worker running the connection.' }),
  transport: Type.Union([Type.Literal('tcp'), Type.Literal('tls'), Type.Literal('ws'), Type.Literal('wss')]),
  listener: Type.String(),
  remoteAddress: Type.Optional(Type.Union([Type.String(), Type.Null()])),
  protocolVersion: Type.Integer({ description: '3 = MQTT 3.1, 4 = 3.1.1, 5 = 5.0.' }),
  connectedSince: Type.String({ format: 'date-time' }),
  keepalive: Type.Integer({ minimum: 0 }),
  bytesIn: Type.Number({ minimum: 0 }),
  bytesOut: Type.Number({ minimum: 0 }),
})

export const connectionsQuerySchema = Type.Object(
  {
    limit: Type.Integer({ minimum: 1, maximum: 1000, default: 100 }),
    cursor: Type.Optional(Type.String({ minLength: 1, maxLength: 1024 })),
    clientId: Type.Optional(Type.String({ minLength: 1, maxLength: 65535 })),
    search: Type.Optional(
      Type.String({ minLength: 1, maxLength: 65535, description: 'Client ids containing this text.' }),
    ),
  },
  { additionalProperties: false },
)

export const connectionsPageSchema = Type.Object({
  items: Type.Array(connectionSchema),
  nextCursor: Type.Union([Type.String(), Type.Null()]),
})

export const clientParamsSchema = Type.Object({ clientId: Type.String({ minLength: 1, maxLength: 65535 }) })

export const recentQuerySchema = Type.Object(
  { limit: Type.Integer({ minimum: 1, maximum: 100, default: 10 }) },
  { additionalProperties: false },
)
export const recentSchema = Type.Object({ items: Type.Array(connectionSchema) })

const byReason = Type.Record(Type.String(), Type.Number({ minimum: 0 }))
const maybeNumber = Type.Union([Type.Number(), Type.Null()], {
  description: 'null: not exposed by this broker.',
})

export const statusSchema = Type.Object({
  version: Type.String(),
  node: Type.String(),
  startedAt: Type.String({ format: 'date-time' }),
  uptimeSeconds: Type.Integer({ minimum: 0 }),
  workers: Type.Integer({ minimum: 0 }),
  connections: Type.Number({ minimum: 0 }),
  listeners: Type.Array(
    Type.Object({
      name: Type.String(),
      type: Type.String(),
      host: Type.String(),
      port: Type.Integer(),
      path: Type.Optional(Type.String()),
      connections: Type.Number({ minimum: 0 }),
      accepted: Type.Number({ minimum: 0 }),
    }),
  ),
  totals: Type.Object({
    messagesIn: Type.Number(),
    messagesOut: Type.Number(),
    bytesIn: Type.Number(),
    bytesOut: Type.Number(),
    accepted: Type.Number(),
  }),
  dropped: byReason,
  rejected: byReason,
  broker: Type.Object({
    sessions: maybeNumber,
    subscriptions: maybeNumber,
    retainedMessages: maybeNumber,
    retainedBytes: maybeNumber,
    queuedMessages: maybeNumber,
    queueDrops: Type.Number({ minimum: 0 }),
    other: Type.Array(Type.Object({ name: Type.String(), help: Type.String(), value: Type.Number() })),
  }),
})

export const ratesQuerySchema = Type.Object(
  {
    since: Type.Optional(Type.Integer({ minimum: 0, description: 'Only samples ending after (epoch ms).' })),
  },
  { additionalProperties: false },
)

export const ratesSchema = Type.Object({
  intervalMs: Type.Integer(),
  capacity: Type.Integer(),
  samples: Type.Array(
    Type.Object({
      t: Type.Number({ description: 'End of the interval, epoch ms.' }),
      ms: Type.Number({ description: 'Length of the interval, ms.' }),
      messagesIn: Type.Number(),
      messagesOut: Type.Number(),
      bytesIn: Type.Number(),
      bytesOut: Type.Number(),
      connections: Type.Number(),
      dropped: byReason,
      rejected: byReason,
    }),
  ),
})
