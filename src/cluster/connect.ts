/**
 * Connecting to NATS, and making sure the JetStream stream and the key-value
 * buckets the cluster uses exist (idempotent: every node and worker does it).
 */
import { resolve } from 'node:path'
import { jetstreamManager, RetentionPolicy, StorageType } from '@nats-io/jetstream'
import { Kvm } from '@nats-io/kv'
import { type ConnectionOptions, connect, type NatsConnection } from '@nats-io/transport-node'
import { mqttdErrorWithCause } from '../errors.ts'
import { NODES_BUCKET, QOS_PREFIX, QOS_STREAM, RETAINED_BUCKET, SESSIONS_BUCKET } from './names.ts'
import type { ClusterConfig } from './schema.ts'

/** How long a node stays listed in `/cluster` after its last heartbeat. */
export const NODE_TTL_MS = 15_000

function options(config: ClusterConfig, baseDir: string, name: string): ConnectionOptions {
  const nats = config.nats
  const opts: ConnectionOptions = {
    servers: nats.servers,
    name,
    timeout: nats.connectTimeoutMs,
    // a running node rides out NATS restarts: it retries for ever (the status stream logs and counts it)
    reconnect: true,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 250,
    waitOnFirstConnect: false,
  }
  if (nats.user !== undefined) opts.user = nats.user
  if (nats.pass !== undefined) opts.pass = nats.pass
  if (nats.token !== undefined) opts.token = nats.token
  if (nats.tls !== undefined) {
    opts.tls = {}
    if (nats.tls.ca !== undefined) opts.tls.caFile = resolve(baseDir, nats.tls.ca)
    if (nats.tls.cert !== undefined) opts.tls.certFile = resolve(baseDir, nats.tls.cert)
    if (nats.tls.key !== undefined) opts.tls.keyFile = resolve(baseDir, nats.tls.key)
  }
  return opts
}

/** The servers as shown in errors and logs: a password in a URL is hidden. */
export function shownServers(config: ClusterConfig): string {
  return config.nats.servers
    .map((s) => s.replace(/^([a-z]+:\/\/[^:/@\s]*):[^@/\s]*@/i, '$1:[redacted]@'))
    .join(', ')
}

/**
 * Connects, or fails within `connectTimeoutMs` with MQTTD_ERR_CLUSTER_CONNECT
 * naming the servers (never the credentials).
 */
export async function connectNats(
  config: ClusterConfig,
  baseDir: string,
  name: string,
): Promise<NatsConnection> {
  const servers = shownServers(config)
  const timeoutMs = config.nats.connectTimeoutMs
  let timer: NodeJS.Timeout | undefined
  const attempt = connect(options(config, baseDir, name))
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error('timed out')), timeoutMs)
  })
  try {
    return await Promise.race([attempt, timeout])
  } catch (err) {
    // a connection that completes after the timeout is closed, not leaked
    attempt.then((nc) => nc.close()).catch(() => {})
    throw mqttdErrorWithCause('MQTTD_ERR_CLUSTER_CONNECT', err, servers, timeoutMs, (err as Error).message)
  } finally {
    clearTimeout(timer)
  }
}

/** Creates (or finds) the stream and buckets; MQTTD_ERR_CLUSTER_SETUP when JetStream is missing. */
export async function ensureClusterState(nc: NatsConnection, config: ClusterConfig): Promise<void> {
  try {
    const jsm = await jetstreamManager(nc)
    try {
      await jsm.streams.info(QOS_STREAM)
    } catch {
      await jsm.streams.add({
        name: QOS_STREAM,
        subjects: [`${QOS_PREFIX}>`],
        // a message stays until every node's consumers took it (or an hour passed: a node gone for good)
        retention: RetentionPolicy.Interest,
        storage: StorageType.File,
        max_age: 3600 * 1e9,
        num_replicas: config.replicas,
      })
    }
    const kvm = new Kvm(nc)
    const replicas = config.replicas
    await kvm.create(RETAINED_BUCKET, { history: 1, replicas })
    await kvm.create(SESSIONS_BUCKET, { history: 1, replicas })
    await kvm.create(NODES_BUCKET, { history: 1, ttl: NODE_TTL_MS, replicas })
  } catch (err) {
    throw mqttdErrorWithCause('MQTTD_ERR_CLUSTER_SETUP', err, shownServers(config), (err as Error).message)
  }
}

/** Whether a NATS request failed because nobody listens on its subject (a worker gone, or not reconnected yet). */
export function noResponders(err: unknown): boolean {
  return (err as { isNoResponders?: () => boolean }).isNoResponders?.() === true
}
