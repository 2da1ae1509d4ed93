/**
 * The configuration schema: one TypeBox schema gives both the TypeScript
 * type ({@link MqttdConfig}) and the runtime validation (ajv with
 * `useDefaults`). Every key carries a `description` so a docs reference can be
 * generated from this module alone.
 */
import { availableParallelism } from 'node:os'
import { KindGuard, type Static, type TObject, type TUnsafe, Type } from '@sinclair/typebox'
import { brokerOptionsSchema } from '../broker/options.ts'
import { ClusterSchema } from '../cluster/schema.ts'

/**
 * The same object schema with every key optional at every depth: a config
 * section that the owning module completes with its own defaults later.
 */
function anySubset(schema: TObject): TUnsafe<Record<string, unknown>> {
  const optional = (object: TObject): TObject =>
    Type.Object(
      Object.fromEntries(
        Object.entries(object.properties).map(([key, value]) => [
          key,
          Type.Optional(KindGuard.IsObject(value) ? optional(value) : value),
        ]),
      ),
      object.description === undefined
        ? { additionalProperties: false }
        : { additionalProperties: false, description: object.description },
    )
  return Type.Unsafe<Record<string, unknown>>(optional(schema))
}

const Port = Type.Integer({ minimum: 0, maximum: 65535, description: 'TCP port; 0 picks a free one.' })
const Host = (fallback: string) =>
  Type.String({ minLength: 1, default: fallback, description: 'Address to bind.' })
const PemSource = Type.Union([Type.String({ minLength: 1 }), Type.Array(Type.String({ minLength: 1 }))], {
  description: 'Path of a PEM file (relative to the config file), or a list of paths.',
})

export const listenerTypes = ['tcp', 'tls', 'ws', 'wss'] as const

export const ListenerSchema = Type.Object(
  {
    name: Type.Optional(
      Type.String({
        minLength: 1,
        description: 'Name in logs, metrics and hook contexts; default `<type>-<port>`.',
      }),
    ),
    type: Type.Union(
      listenerTypes.map((t) => Type.Literal(t)),
      { description: 'tcp, tls (MQTT over TLS), ws (MQTT over WebSocket) or wss (over secure WebSocket).' },
    ),
    host: Host('127.0.0.1'),
    port: Port,
    key: Type.Optional(Type.String({ minLength: 1, description: 'tls/wss: private key PEM path.' })),
    cert: Type.Optional(Type.String({ minLength: 1, description: 'tls/wss: certificate chain PEM path.' })),
    ca: Type.Optional(PemSource),
    requestCert: Type.Boolean({
      default: false,
      description: 'tls/wss: ask clients for a certificate (client-certificate authentication).',
    }),
    rejectUnauthorized: Type.Boolean({
      default: true,
      description: 'tls/wss with requestCert: refuse clients whose certificate does not verify against `ca`.',
    }),
    minVersion: Type.Union([Type.Literal('TLSv1.2'), Type.Literal('TLSv1.3')], {
      default: 'TLSv1.2',
      description: 'tls/wss: lowest TLS version accepted.',
    }),
    path: Type.String({ pattern: '^/', default: '/mqtt', description: 'ws/wss: URL path of the WebSocket.' }),
    maxConnections: Type.Optional(
      Type.Integer({ minimum: 1, description: 'Open connections allowed on this listener.' }),
    ),
    proxyProtocol: Type.Boolean({
      default: false,
      description:
        'Every connection starts with a PROXY protocol v1 or v2 header (HAProxy send-proxy / send-proxy-v2); its client address is used everywhere. Trusts whoever can connect: let only the proxy reach this listener. A connection without a valid header within limits.connectTimeoutMs is closed.',
    }),
  },
  { additionalProperties: false },
)

export const HandlerEntrySchema = Type.Union([
  Type.String({ minLength: 1 }),
  Type.Object(
    {
      module: Type.String({
        minLength: 1,
        description: 'Path relative to the config file, or a package name.',
      }),
      options: Type.Optional(
        Type.Record(Type.String(), Type.Unknown(), { description: 'Given to the handler.' }),
      ),
    },
    { additionalProperties: false },
  ),
])

export const ConfigSchema = Type.Object(
  {
    workers: Type.Integer({
      minimum: 1,
      maximum: 1024,
      default: availableParallelism(),
      description: 'Worker threads serving connections; default: available parallelism.',
    }),
    listeners: Type.Array(ListenerSchema, {
      minItems: 1,
      default: [
        { name: 'mqtt', type: 'tcp', host: '127.0.0.1', port: 1883 },
        { name: 'ws', type: 'ws', host: '127.0.0.1', port: 8083, path: '/mqtt' },
      ],
      description: 'Sockets to accept MQTT clients on.',
    }),
    handlers: Type.Array(HandlerEntrySchema, {
      default: [],
      description: 'Handler modules, run in this order: a path or package name, or { module, options }.',
    }),
    // The broker's own schema, so a misspelt broker option fails `mqttd --check`, not a worker start.
    broker: Type.Union([Type.Boolean(), anySubset(brokerOptionsSchema)], {
      default: true,
      description:
        'Append the built-in broker after the handlers (true), leave it out (false), or its options.',
    }),
    persistence: Type.Union(
      [
        Type.Literal(false),
        Type.Object(
          {
            dir: Type.Optional(
              Type.String({
                minLength: 1,
                description:
                  'Directory of the store file (mqttd.db), relative to the config file (or the working directory without one). Default: data',
              }),
            ),
            sync: Type.Optional(
              Type.Union([Type.Literal('batch'), Type.Literal('always'), Type.Literal('off')], {
                description:
                  "batch: acknowledgements wait for the group commit (survives kill -9, not a power cut); always: also fsync each group (survives a power cut); off: acknowledgements do not wait (a crash loses the last turn's writes). Default: batch",
              }),
            ),
            maxBytes: Type.Optional(
              Type.Integer({
                minimum: 65536,
                description:
                  'Store size beyond which new persistent state (QoS 1/2 publishes, persistent sessions and their subscriptions) is refused with 0x97. Default: 1 GiB',
              }),
            ),
          },
          { additionalProperties: false },
        ),
      ],
      {
        default: {},
        description:
          "The broker's durable state (retained messages, persistent sessions, queued QoS 1/2 messages) in one SQLite file shared by the workers; false: memory only. See docs/broker-design.md.",
      },
    ),
    admin: Type.Object(
      {
        enabled: Type.Boolean({ default: true, description: 'Serve the admin HTTP API.' }),
        host: Host('127.0.0.1'),
        port: Type.Integer({ minimum: 0, maximum: 65535, default: 9883 }),
        token: Type.Optional(
          Type.String({ minLength: 1, description: 'Bearer token required by the admin API.' }),
        ),
        ui: Type.Boolean({
          default: true,
          description: 'Serve the status page at `/ui/` on the admin API (off with the admin API too).',
        }),
        allowNoToken: Type.Boolean({
          default: false,
          description:
            'Serve the admin API on a non-loopback host without a token; without it such a config refuses to start.',
        }),
        publicMetrics: Type.Boolean({
          default: false,
          description:
            'Serve /metrics without the token (for scrapers that cannot send one); /healthz and /readyz are always public.',
        }),
      },
      { additionalProperties: false, default: {} },
    ),
    limits: Type.Object(
      {
        maxConnections: Type.Integer({
          minimum: 1,
          default: 100000,
          description: 'Open connections, all listeners.',
        }),
        maxPacketSize: Type.Integer({
          minimum: 16,
          maximum: 268435460,
          default: 1048576,
          description: 'Largest packet accepted from a client, in bytes.',
        }),
        connectTimeoutMs: Type.Integer({
          minimum: 1,
          default: 10000,
          description:
            'Time allowed to send CONNECT. Checked in quarter seconds with the keepalive deadlines: a connection is closed up to 250 ms after it.',
        }),
        maxKeepaliveSeconds: Type.Integer({
          minimum: 0,
          maximum: 65535,
          default: 0,
          description: 'Cap on the client keepalive (v5: Server Keep Alive); 0: no cap.',
        }),
        hookTimeoutMs: Type.Integer({ minimum: 1, default: 5000, description: 'Time a hook may take.' }),
        receiveMaximum: Type.Integer({
          minimum: 1,
          maximum: 65535,
          default: 100,
          description: 'Unacknowledged QoS 1/2 PUBLISH packets a v5 client may send.',
        }),
        topicAliasMaximum: Type.Integer({
          minimum: 0,
          maximum: 65535,
          default: 10,
          description: 'Topic aliases a v5 client may use towards the server.',
        }),
        connectionRatePerAddress: Type.Integer({
          minimum: 0,
          default: 0,
          description: 'New connections per second from one remote address; 0: unlimited.',
        }),
        handoffQueue: Type.Integer({
          minimum: 0,
          default: 1024,
          description:
            'Accepted sockets that may wait while no worker takes any (at start, or while the workers restart) before new ones are refused.',
        }),
        maxSubscriptionsPerClient: Type.Integer({
          minimum: 1,
          default: 1000,
          description:
            'Subscriptions one session may hold (broker); a new filter beyond is refused in SUBACK (v5 0x97, 3.1.1 0x80).',
        }),
        maxSubscriptions: Type.Integer({
          minimum: 1,
          default: 1_000_000,
          description:
            'Subscriptions all sessions of the server may hold together, across workers (broker); refused like maxSubscriptionsPerClient.',
        }),
        maxTopicLength: Type.Integer({
          minimum: 1,
          maximum: 65535,
          default: 1024,
          description:
            'Longest topic name or filter in UTF-8 bytes (broker): a longer PUBLISH topic is refused (v5 0x90), a longer filter too (0x8F / 0x80).',
        }),
        maxTopicLevels: Type.Integer({
          minimum: 1,
          default: 128,
          description:
            'Most `/`-separated levels in a topic name or filter (broker); refused like maxTopicLength.',
        }),
        lingerMs: Type.Integer({
          minimum: 0,
          default: 2000,
          // after a refusing CONNACK or a DISCONNECT, so a client still sending reads it (no TCP reset)
          description: 'Time a closed socket drains input after its final packet; 0: none.',
        }),
        maxLingering: Type.Integer({
          minimum: 0,
          default: 1000,
          description: 'Sockets draining after their final packet, per worker.',
        }),
      },
      { additionalProperties: false, default: {} },
    ),
    auth: Type.Optional(
      Type.Object(
        {
          allowAnonymous: Type.Optional(
            Type.Boolean({
              description:
                'Accept clients without a username (and, without passwordFile, any username). Default: only while every listener is on loopback.',
            }),
          ),
          passwordFile: Type.Optional(
            Type.String({
              minLength: 1,
              description:
                'mosquitto password file (`mosquitto_passwd` or `mqttd passwd`: $6$/$7$ hashes), relative to the config file.',
            }),
          ),
          aclFile: Type.Optional(
            Type.String({
              minLength: 1,
              description: 'mosquitto ACL file (user, topic, pattern lines), relative to the config file.',
            }),
          ),
        },
        {
          additionalProperties: false,
          description:
            'Built-in authentication and authorization, run before the handlers. Without it, every listener must be on loopback.',
        },
      ),
    ),
    shutdown: Type.Object(
      {
        drainTimeoutMs: Type.Integer({
          minimum: 0,
          default: 30000,
          description: 'Time given to workers to disconnect clients on shutdown.',
        }),
      },
      { additionalProperties: false, default: {} },
    ),
    cluster: Type.Optional(ClusterSchema),
    log: Type.Object(
      {
        level: Type.Union(
          ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map((l) => Type.Literal(l)),
          { default: 'info' },
        ),
        pretty: Type.Optional(
          Type.Boolean({
            description:
              'Human-readable log lines (pino-pretty); default: when stdout is a terminal. JSON otherwise.',
          }),
        ),
        payloads: Type.Boolean({
          default: false,
          description: 'At trace level, include PUBLISH payloads in the per-packet lines.',
        }),
      },
      { additionalProperties: false, default: {} },
    ),
    memory: Type.Object(
      {
        trimIdleHeap: Type.Boolean({
          default: true,
          description:
            'Each thread gives its heap back to the OS once idle after a burst (one full GC per 32 MB of growth, only when idle). See docs/operations.md.',
        }),
        optimizeForSize: Type.Boolean({
          default: false,
          description:
            "Sets V8's `--optimize-for-size` for the process at start: smaller heaps, at about 1.5x the CPU per connection and per message (measured). See docs/operations.md.",
        }),
        allocationSitePretenuring: Type.Boolean({
          default: false,
          description:
            "V8's allocation-site pretenuring for the process (a site whose objects survived is made to allocate in the old generation). Off by default: on, a worker delivering QoS 1 messages from another worker moved about 250 bytes of each to the old generation and ran major GCs for them (measured). See docs/operations.md.",
        }),
        workerYoungGenerationMb: Type.Integer({
          minimum: 0,
          maximum: 1024,
          default: 0,
          description:
            "V8 young generation of each worker thread (`resourceLimits.maxYoungGenerationSizeMb`); 0: V8's own sizing. See docs/operations.md.",
        }),
      },
      { additionalProperties: false, default: {} },
    ),
  },
  { additionalProperties: false },
)

/** The configuration after validation, with every default filled in. */
export type MqttdConfig = Static<typeof ConfigSchema>
export type ListenerConfig = Static<typeof ListenerSchema>
export type HandlerEntry = Static<typeof HandlerEntrySchema>
export type ListenerType = (typeof listenerTypes)[number]

type DeepPartial<T> = T extends readonly (infer U)[]
  ? DeepPartial<U>[]
  : T extends object
    ? { [K in keyof T]?: DeepPartial<T[K]> }
    : T

/** What a config file or `startServer()` may give: any key may be left to its default. */
export type MqttdConfigInput = Omit<DeepPartial<MqttdConfig>, 'listeners' | 'handlers'> & {
  listeners?: Array<Partial<ListenerConfig> & Pick<ListenerConfig, 'type' | 'port'>>
  handlers?: HandlerEntry[]
}
