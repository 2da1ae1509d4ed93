/**
 * Environment-variable overrides for the common settings. They apply on top
 * of the config file (or the embedded default) before validation, so a bad
 * value is reported like a bad key.
 */

type Setter = (config: Record<string, unknown>, value: unknown) => void

function section(config: Record<string, unknown>, key: string): Record<string, unknown> {
  const current = config[key]
  if (typeof current === 'object' && current !== null && !Array.isArray(current))
    return current as Record<string, unknown>
  const fresh: Record<string, unknown> = {}
  config[key] = fresh
  return fresh
}

const asNumber = (raw: string): unknown => (/^-?\d+(\.\d+)?$/.test(raw.trim()) ? Number(raw) : raw)
const asBoolean = (raw: string): unknown =>
  raw === 'true' || raw === '1' ? true : raw === 'false' || raw === '0' ? false : raw

/** Variable → how it is parsed and where it goes. */
export const envOverrides: Record<string, { parse: (raw: string) => unknown; set: Setter; key: string }> = {
  MQTTD_WORKERS: { key: 'workers', parse: asNumber, set: (c, v) => (c.workers = v) },
  MQTTD_LOG_LEVEL: { key: 'log.level', parse: String, set: (c, v) => (section(c, 'log').level = v) },
  MQTTD_MAX_CONNECTIONS: {
    key: 'limits.maxConnections',
    parse: asNumber,
    set: (c, v) => (section(c, 'limits').maxConnections = v),
  },
  MQTTD_MAX_PACKET_SIZE: {
    key: 'limits.maxPacketSize',
    parse: asNumber,
    set: (c, v) => (section(c, 'limits').maxPacketSize = v),
  },
  MQTTD_DRAIN_TIMEOUT_MS: {
    key: 'shutdown.drainTimeoutMs',
    parse: asNumber,
    set: (c, v) => (section(c, 'shutdown').drainTimeoutMs = v),
  },
  MQTTD_ADMIN_ENABLED: {
    key: 'admin.enabled',
    parse: asBoolean,
    set: (c, v) => (section(c, 'admin').enabled = v),
  },
  MQTTD_ADMIN_HOST: { key: 'admin.host', parse: String, set: (c, v) => (section(c, 'admin').host = v) },
  MQTTD_ADMIN_PORT: { key: 'admin.port', parse: asNumber, set: (c, v) => (section(c, 'admin').port = v) },
  MQTTD_ADMIN_TOKEN: { key: 'admin.token', parse: String, set: (c, v) => (section(c, 'admin').token = v) },
  MQTTD_AUTH_PASSWORD_FILE: {
    key: 'auth.passwordFile',
    parse: String,
    set: (c, v) => (section(c, 'auth').passwordFile = v),
  },
  MQTTD_AUTH_ACL_FILE: {
    key: 'auth.aclFile',
    parse: String,
    set: (c, v) => (section(c, 'auth').aclFile = v),
  },
  MQTTD_AUTH_ALLOW_ANONYMOUS: {
    key: 'auth.allowAnonymous',
    parse: asBoolean,
    set: (c, v) => (section(c, 'auth').allowAnonymous = v),
  },
  MQTTD_LOG_PRETTY: { key: 'log.pretty', parse: asBoolean, set: (c, v) => (section(c, 'log').pretty = v) },
  MQTTD_PERSISTENCE: {
    key: 'persistence',
    parse: asBoolean,
    // false: memory only; true keeps the config's section (or the defaults)
    set: (c, v) => {
      if (v !== true) c.persistence = v
      else if (c.persistence === false || c.persistence === undefined) c.persistence = {}
    },
  },
  MQTTD_PERSISTENCE_DIR: {
    key: 'persistence.dir',
    parse: String,
    set: (c, v) => (section(c, 'persistence').dir = v),
  },
  MQTTD_PERSISTENCE_SYNC: {
    key: 'persistence.sync',
    parse: String,
    set: (c, v) => (section(c, 'persistence').sync = v),
  },
  MQTTD_CLUSTER_NODE_ID: {
    key: 'cluster.nodeId',
    parse: String,
    set: (c, v) => (section(c, 'cluster').nodeId = v),
  },
  MQTTD_CLUSTER_NATS_SERVERS: {
    key: 'cluster.nats.servers',
    // comma-separated
    parse: (raw) =>
      raw
        .split(',')
        .map((s) => s.trim())
        .filter((s) => s !== ''),
    set: (c, v) => (section(section(c, 'cluster'), 'nats').servers = v),
  },
  MQTTD_CLUSTER_NATS_USER: {
    key: 'cluster.nats.user',
    parse: String,
    set: (c, v) => (section(section(c, 'cluster'), 'nats').user = v),
  },
  MQTTD_CLUSTER_NATS_PASS: {
    key: 'cluster.nats.pass',
    parse: String,
    set: (c, v) => (section(section(c, 'cluster'), 'nats').pass = v),
  },
  MQTTD_CLUSTER_NATS_TOKEN: {
    key: 'cluster.nats.token',
    parse: String,
    set: (c, v) => (section(section(c, 'cluster'), 'nats').token = v),
  },
}

/** Returns a copy of `input` with the MQTTD_* variables of `env` applied; lists what was applied. */
export function applyEnv(
  input: Record<string, unknown>,
  env: NodeJS.ProcessEnv = process.env,
): { config: Record<string, unknown>; applied: string[] } {
  const config = structuredClone(input)
  const applied: string[] = []
  for (const [name, spec] of Object.entries(envOverrides)) {
    const raw = env[name]
    if (raw === undefined || raw === '') continue
    spec.set(config, spec.parse(raw))
    applied.push(`${name} → ${spec.key}`)
  }
  return { config, applied }
}
