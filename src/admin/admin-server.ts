/**
 * The admin API: a Fastify app on its own listener (default 127.0.0.1:9883),
 * apart from the MQTT listeners so scrapes and probes never compete with
 * client traffic for a port or a worker.
 *
 * With `token` set, every route except `/healthz` needs
 * `Authorization: Bearer <token>`. Every error is JSON
 * `{ statusCode, code, message }` with a stable MQTTD_ERR_ADMIN_* code.
 */
import type { AddressInfo } from 'node:net'
import Fastify, {
  type FastifyBaseLogger,
  type FastifyError,
  type FastifyInstance,
  type FastifyReply,
  LogController,
} from 'fastify'
import type { Logger } from 'pino'
import { type ErrorCode, MqttdError, mqttdError } from '../errors.ts'
import { bearerChecker } from './auth.ts'
import {
  clientParamsSchema,
  connectionsPageSchema,
  connectionsQuerySchema,
  errorSchema,
  healthSchema,
  ratesQuerySchema,
  ratesSchema,
  readySchema,
  recentQuerySchema,
  recentSchema,
  reloadSchema,
  statusSchema,
  workersSchema,
} from './schemas.ts'
import type { AdminBackend, ConnectionsQuery } from './types.ts'
import { registerUiRoutes } from './ui-routes.ts'

export interface AdminServerOptions {
  /** Default 127.0.0.1. */
  host?: string
  /** Default 9883; 0 picks a free port. */
  port?: number
  /** Bearer token; when set, required on every route but /healthz. */
  token?: string
  /** Serve /metrics without the token (scrapers that cannot send one). */
  publicMetrics?: boolean
  backend: AdminBackend
  logger?: Logger
  /** Serve the status page at `/ui/`; default true. */
  ui?: boolean
}

export interface AdminServer {
  app: FastifyInstance
  /** The bound address (the real port when 0 was asked). */
  address: { host: string; port: number }
  /** Replaces the bearer token (a reload); undefined: no token. */
  setToken(token: string | undefined): void
  close(): Promise<void>
}

const statusOf: Partial<Record<ErrorCode, number>> = {
  MQTTD_ERR_ADMIN_UNAUTHORIZED: 401,
  MQTTD_ERR_ADMIN_BAD_REQUEST: 400,
  MQTTD_ERR_ADMIN_CLIENT_NOT_FOUND: 404,
  MQTTD_ERR_ADMIN_ROUTE_NOT_FOUND: 404,
  MQTTD_ERR_ADMIN_NOT_READY: 503,
}

function sendError(reply: FastifyReply, err: MqttdError): FastifyReply {
  const statusCode = statusOf[err.code] ?? 500
  return reply.code(statusCode).send({ statusCode, code: err.code, message: err.message })
}

const errors = { 400: errorSchema, 401: errorSchema, 404: errorSchema, 500: errorSchema, 503: errorSchema }

declare module 'fastify' {
  interface FastifySchema {
    /** What the route does; served by `GET /`. */
    description?: string
  }
  interface FastifyContextConfig {
    /** Served without the bearer token. */
    public?: boolean
  }
}

/** Builds the admin app and starts listening. */
export async function createAdminServer(options: AdminServerOptions): Promise<AdminServer> {
  const { backend, token } = options
  if (token !== undefined && !/^\S+$/.test(token)) {
    throw mqttdError(
      'MQTTD_ERR_CONFIG_INVALID',
      '',
      '- admin.token: must be a non-empty string without spaces',
    )
  }
  const app = Fastify({
    ...(options.logger === undefined
      ? { logger: false }
      : { loggerInstance: options.logger as FastifyBaseLogger }),
    // Scrapes and probes every few seconds would drown the log. (Through a LogController: the
    // top-level `disableRequestLogging` prints deprecation FSTDEP023 on every start.)
    logController: new LogController({ disableRequestLogging: true }),
    // Keep-alive scrapers must not hold close() open.
    forceCloseConnections: true,
  })

  const routes: { method: string; url: string; schema: unknown }[] = []
  app.addHook('onRoute', (route) => {
    if (route.method !== 'HEAD')
      routes.push({ method: String(route.method), url: route.url, schema: route.schema })
  })

  // no browser may guess a type for anything the admin API sends
  // and nothing it sends may run code or be framed, unless a route (the status page) says otherwise
  app.addHook('onSend', async (_request, reply) => {
    reply.header('x-content-type-options', 'nosniff')
    if (!reply.hasHeader('content-security-policy')) {
      reply.header('content-security-policy', "default-src 'none'; frame-ancestors 'none'")
    }
  })

  // replaced by a reload (setToken): the next request is checked against the new token
  let check = token === undefined ? undefined : bearerChecker(token)
  app.addHook('onRequest', async (request, reply) => {
    if (check === undefined || request.routeOptions.config.public === true) return
    if (check(request.headers.authorization)) return
    reply.header('www-authenticate', 'Bearer realm="mqttd-admin"')
    return sendError(reply, mqttdError('MQTTD_ERR_ADMIN_UNAUTHORIZED'))
  })

  app.setNotFoundHandler((request, reply) =>
    sendError(
      reply,
      mqttdError('MQTTD_ERR_ADMIN_ROUTE_NOT_FOUND', request.method, request.url.split('?')[0]),
    ),
  )
  app.setErrorHandler((err: FastifyError, request, reply) => {
    if (err instanceof MqttdError) return sendError(reply, err)
    if (err.validation !== undefined || (err.statusCode !== undefined && err.statusCode < 500)) {
      return sendError(reply, mqttdError('MQTTD_ERR_ADMIN_BAD_REQUEST', err.message))
    }
    request.log.error({ err, url: request.url }, 'admin request failed')
    return sendError(reply, mqttdError('MQTTD_ERR_ADMIN_BACKEND', err.message))
  })

  app.get(
    '/healthz',
    {
      config: { public: true },
      schema: {
        description: 'Liveness: 200 while the process serves (from the end of start-up, through draining).',
        response: { 200: healthSchema, 503: errorSchema },
      },
    },
    async (_request, reply) => {
      // as before the admin API came up during start-up: a probe sees no live server until it serves
      if (backend.isLive?.() === false) {
        return sendError(reply, mqttdError('MQTTD_ERR_ADMIN_NOT_READY', 'starting up'))
      }
      return { status: 'ok' as const }
    },
  )

  app.get(
    '/readyz',
    {
      schema: {
        description:
          'Readiness: 200 when every listener is bound and every worker ready; 503 while starting or draining.',
        response: { 200: readySchema, ...errors },
      },
    },
    async (_request, reply) => {
      if (!backend.isReady()) {
        return sendError(reply, mqttdError('MQTTD_ERR_ADMIN_NOT_READY', 'starting up or draining'))
      }
      return { status: 'ready' as const }
    },
  )

  app.get(
    '/metrics',
    {
      config: { public: options.publicMetrics === true },
      schema: {
        description:
          'Prometheus text exposition (0.0.4), or OpenMetrics 1.0 when Accept asks for application/openmetrics-text.',
        response: { 401: errorSchema, 500: errorSchema },
      },
    },
    async (request, reply) => {
      const { body, contentType } = await backend.metrics(request.headers.accept)
      return reply.type(contentType).send(body)
    },
  )

  app.get(
    '/workers',
    {
      schema: {
        description: 'Per worker thread: load and restarts.',
        response: { 200: workersSchema, ...errors },
      },
    },
    async () => ({ workers: await backend.workers() }),
  )

  app.get<{ Querystring: ConnectionsQuery }>(
    '/connections',
    {
      schema: {
        description: 'Connected clients, a page at a time (pass nextCursor as cursor).',
        querystring: connectionsQuerySchema,
        response: { 200: connectionsPageSchema, ...errors },
      },
    },
    async (request) => {
      const { limit, cursor, clientId, search } = request.query
      const query: ConnectionsQuery = { limit }
      if (cursor !== undefined) query.cursor = cursor
      if (clientId !== undefined) query.clientId = clientId
      if (search !== undefined) query.search = search
      return backend.connections(query)
    },
  )

  const { recent, status, rates, config, cluster } = backend
  if (recent !== undefined) {
    app.get<{ Querystring: { limit: number } }>(
      '/connections/recent',
      {
        schema: {
          description:
            'The most recently connected clients, newest first (each worker asked for its newest).',
          querystring: recentQuerySchema,
          response: { 200: recentSchema, ...errors },
        },
      },
      async (request) => ({ items: await recent.call(backend, request.query.limit) }),
    )
  }
  if (status !== undefined) {
    app.get(
      '/status',
      {
        schema: {
          description:
            'Aggregate figures: version, uptime, listeners, totals, drops and refusals by reason, broker gauges.',
          response: { 200: statusSchema, ...errors },
        },
      },
      () => status.call(backend),
    )
  }
  if (rates !== undefined) {
    app.get<{ Querystring: { since?: number } }>(
      '/rates',
      {
        schema: {
          description: 'Per-second counters of the last 15 minutes, kept in the main thread.',
          querystring: ratesQuerySchema,
          response: { 200: ratesSchema, ...errors },
        },
      },
      async (request) => rates.call(backend, request.query.since),
    )
  }
  if (config !== undefined) {
    app.get(
      '/config',
      { schema: { description: 'The effective configuration, secrets redacted.', response: errors } },
      async () => config.call(backend),
    )
  }
  if (cluster !== undefined) {
    app.get(
      '/cluster',
      {
        schema: {
          description:
            'The nodes of the cluster (cluster:), each with its state (up / stale), start time, last heartbeat and listeners.',
          response: errors,
        },
      },
      async () => ({ nodes: await cluster.call(backend) }),
    )
  }
  if (options.ui !== false) registerUiRoutes(app)

  app.delete<{ Params: { clientId: string } }>(
    '/connections/:clientId',
    {
      schema: {
        description: 'Disconnects the client (MQTT 5: DISCONNECT 0x98 "Administrative action").',
        params: clientParamsSchema,
        response: { 204: { type: 'null' }, ...errors },
      },
    },
    async (request, reply) => {
      if (!(await backend.kick(request.params.clientId))) {
        return sendError(reply, mqttdError('MQTTD_ERR_ADMIN_CLIENT_NOT_FOUND', request.params.clientId))
      }
      return reply.code(204).send()
    },
  )

  if (backend.reload !== undefined) {
    const reload = backend.reload
    app.post(
      '/reload',
      {
        schema: {
          description:
            'Re-reads the config file and applies what can change live (as SIGHUP does); 409 with the errors when the new config is refused.',
          response: { 200: reloadSchema, 409: errorSchema, ...errors },
        },
      },
      async (_request, reply) => {
        const result = await reload()
        if (!result.ok) return reply.code(409).send({ statusCode: 409, ...result.error })
        return result.report
      },
    )
  }

  app.get('/', { schema: { description: 'This list: every admin route with its schemas.' } }, async () => ({
    routes,
  }))

  const host = options.host ?? '127.0.0.1'
  const port = options.port ?? 9883
  try {
    await app.listen({ host, port, listenTextResolver: (address) => `admin API listening at ${address}` })
  } catch (err) {
    await app.close()
    throw mqttdError('MQTTD_ERR_LISTEN', 'admin', `${host}:${port}`, (err as Error).message)
  }
  const bound = app.server.address() as AddressInfo
  return {
    app,
    address: { host: bound.address, port: bound.port },
    setToken(next) {
      if (next !== undefined && !/^\S+$/.test(next)) {
        throw mqttdError(
          'MQTTD_ERR_CONFIG_INVALID',
          '',
          '- admin.token: must be a non-empty string without spaces',
        )
      }
      check = next === undefined ? undefined : bearerChecker(next)
    },
    close: () => app.close(),
  }
}
