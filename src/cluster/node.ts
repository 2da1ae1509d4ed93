/**
 * The main thread's part of a cluster node: it checks at start-up that NATS
 * is there (and creates the stream and buckets), then keeps this node's entry
 * in the MQTTD_nodes bucket fresh, which `GET /cluster` lists for every node.
 */
import { type KV, Kvm } from '@nats-io/kv'
import type { NatsConnection } from '@nats-io/transport-node'
import type { Logger } from 'pino'
import { connectNats, ensureClusterState } from './connect.ts'
import { NODES_BUCKET } from './names.ts'
import type { ClusterConfig } from './schema.ts'

/** What a node says of itself in the MQTTD_nodes bucket. */
export interface NodeEntry {
  nodeId: string
  startedAt: string
  updatedAt: string
  pid: number
  /** This node's MQTT listeners, as `type://host:port`. */
  listeners: string[]
}

/** One row of `GET /cluster`. */
export interface NodeState extends NodeEntry {
  /** up: refreshed within the last two heartbeats; stale: older (the entry expires after 15 s). */
  state: 'up' | 'stale'
  self: boolean
}

const HEARTBEAT_MS = 5000

export class ClusterNode {
  readonly nodeId: string
  readonly #nc: NatsConnection
  readonly #kv: KV
  readonly #log: Logger
  readonly #startedAt = new Date().toISOString()
  #listeners: string[] = []
  #timer: NodeJS.Timeout | undefined

  private constructor(nodeId: string, nc: NatsConnection, kv: KV, log: Logger) {
    this.nodeId = nodeId
    this.#nc = nc
    this.#kv = kv
    this.#log = log
  }

  /** MQTTD_ERR_CLUSTER_CONNECT / MQTTD_ERR_CLUSTER_SETUP when NATS is not reachable or has no JetStream. */
  static async start(config: ClusterConfig, baseDir: string, log: Logger): Promise<ClusterNode> {
    const nc = await connectNats(config, baseDir, `mqttd ${config.nodeId} main`)
    try {
      await ensureClusterState(nc, config)
      const kv = await new Kvm(nc).open(NODES_BUCKET)
      const node = new ClusterNode(config.nodeId, nc, kv, log)
      log.info({ node: config.nodeId, nats: nc.getServer() }, 'cluster: connected to NATS')
      return node
    } catch (err) {
      await nc.close()
      throw err
    }
  }

  /** Announces the node (with its bound listeners) and keeps the entry fresh. */
  async announce(listeners: string[]): Promise<void> {
    this.#listeners = listeners
    await this.#beat()
    this.#timer = setInterval(() => void this.#beat(), HEARTBEAT_MS)
    this.#timer.unref()
  }

  async #beat(): Promise<void> {
    const entry: NodeEntry = {
      nodeId: this.nodeId,
      startedAt: this.#startedAt,
      updatedAt: new Date().toISOString(),
      pid: process.pid,
      listeners: this.#listeners,
    }
    try {
      await this.#kv.put(this.nodeId, JSON.stringify(entry))
    } catch (err) {
      this.#log.warn({ err }, 'cluster: node heartbeat not stored')
    }
  }

  /** Every node that announced itself within the bucket's TTL. */
  async nodes(): Promise<NodeState[]> {
    const out: NodeState[] = []
    const now = Date.now()
    for await (const key of await this.#kv.keys()) {
      const e = await this.#kv.get(key)
      if (e === null || e.operation !== 'PUT') continue
      const entry = e.json<NodeEntry>()
      const age = now - Date.parse(entry.updatedAt)
      out.push({
        ...entry,
        state: age <= 2 * HEARTBEAT_MS ? 'up' : 'stale',
        self: entry.nodeId === this.nodeId,
      })
    }
    return out.sort((a, b) => a.nodeId.localeCompare(b.nodeId))
  }

  /** Leaves the list and closes the connection. */
  async close(): Promise<void> {
    clearInterval(this.#timer)
    try {
      await this.#kv.delete(this.nodeId)
      await this.#nc.drain()
    } catch {
      await this.#nc.close()
    }
  }
}
