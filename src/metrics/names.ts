/**
 * Every metric mqttd itself exposes, defined once. The main thread and the
 * workers build their metrics from these specs, so a name that lives in both
 * (`mqttd_connections_rejected_total`, `mqttd_messages_dropped_total`) has the
 * same help, type and label names everywhere and merges cleanly on scrape.
 *
 * Prometheus practice: one prefix, base units, `_total` on counters, and never
 * a client id or topic in a label (unbounded cardinality).
 */

/** How the main thread merges one gauge across workers (prom-client aggregator names). */
export type GaugeAggregator = 'sum' | 'first' | 'min' | 'max' | 'average' | 'omit'

export interface MetricSpec {
  readonly name: string
  readonly help: string
  readonly type: 'counter' | 'gauge' | 'histogram'
  readonly labelNames: readonly string[]
  /** Gauges only: how values from several workers merge. */
  readonly aggregator?: GaugeAggregator
  /** Histograms only: upper bounds in seconds. */
  readonly buckets?: readonly number[]
}

/** mqtt-packet `cmd` names; the per-type packet counters are pre-bound for each. */
export const packetTypes = [
  'connect',
  'connack',
  'publish',
  'puback',
  'pubrec',
  'pubrel',
  'pubcomp',
  'subscribe',
  'suback',
  'unsubscribe',
  'unsuback',
  'pingreq',
  'pingresp',
  'disconnect',
  'auth',
] as const

export const qosLevels = [0, 1, 2] as const

/** Refusals the main thread counts before a worker sees the socket. */
export const mainRejectReasons = ['max_connections', 'rate_limited', 'queue_full'] as const
/** Refusals a worker counts. */
export const workerRejectReasons = [
  'auth_refused',
  'protocol_error',
  'connect_timeout',
  'proxy_header_invalid',
  'proxy_header_timeout',
] as const
/** Drop reasons pre-bound at start; others are bound on first use. */
export const knownDropReasons = [
  'queue_full',
  'packet_too_large',
  'no_subscribers',
  'client_offline',
  'expired',
  'hook_refused',
  'slow_consumer',
  'retained_limit',
] as const

// The hand-off is a postMessage on a 2-core machine: ~40–70 µs when idle, milliseconds under load.
const handoffBuckets = [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5]
// Hooks range from a synchronous check (µs) to an auth call over the network (hundreds of ms).
const hookBuckets = [0.00001, 0.00005, 0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5]

export const metricSpecs = {
  connections: {
    name: 'mqttd_connections',
    help: 'Open client connections.',
    type: 'gauge',
    labelNames: ['listener', 'transport'],
    aggregator: 'sum',
  },
  workerConnections: {
    name: 'mqttd_worker_connections',
    help: 'Open client connections per worker (label worker: the worker index, 0..workers-1).',
    type: 'gauge',
    labelNames: ['worker'],
    aggregator: 'max',
  },
  accepted: {
    name: 'mqttd_connections_accepted_total',
    help: 'Sockets accepted by the main thread and handed to a worker.',
    type: 'counter',
    labelNames: ['listener'],
  },
  rejected: {
    name: 'mqttd_connections_rejected_total',
    help: 'Connections refused, by reason (limits and queue in the main thread; auth, protocol, timeout in workers).',
    type: 'counter',
    labelNames: ['listener', 'reason'],
  },
  handoff: {
    name: 'mqttd_handoff_seconds',
    help: 'Time from accept in the main thread to the start of the connection task in a worker.',
    type: 'histogram',
    labelNames: [],
    buckets: handoffBuckets,
  },
  packetsReceived: {
    name: 'mqttd_packets_received_total',
    help: 'MQTT packets received, by packet type.',
    type: 'counter',
    labelNames: ['type'],
  },
  packetsSent: {
    name: 'mqttd_packets_sent_total',
    help: 'MQTT packets sent, by packet type.',
    type: 'counter',
    labelNames: ['type'],
  },
  bytesReceived: {
    name: 'mqttd_bytes_received_total',
    help: 'Bytes read from client sockets (after TLS/WebSocket framing is removed).',
    type: 'counter',
    labelNames: [],
  },
  bytesSent: {
    name: 'mqttd_bytes_sent_total',
    help: 'Bytes written to client sockets (before TLS/WebSocket framing is added).',
    type: 'counter',
    labelNames: [],
  },
  messagesReceived: {
    name: 'mqttd_messages_received_total',
    help: 'PUBLISH messages received from clients, by QoS.',
    type: 'counter',
    labelNames: ['qos'],
  },
  messagesSent: {
    name: 'mqttd_messages_sent_total',
    help: 'PUBLISH messages sent to clients, by QoS.',
    type: 'counter',
    labelNames: ['qos'],
  },
  messagesDropped: {
    name: 'mqttd_messages_dropped_total',
    help: 'Messages dropped instead of delivered, by reason.',
    type: 'counter',
    labelNames: ['reason'],
  },
  hookDuration: {
    name: 'mqttd_hook_duration_seconds',
    help: 'Time spent in one handler hook call, by hook and handler module.',
    type: 'histogram',
    labelNames: ['hook', 'module'],
    buckets: hookBuckets,
  },
  hookErrors: {
    name: 'mqttd_hook_errors_total',
    help: 'Handler hook calls that threw, rejected or timed out, by hook and handler module.',
    type: 'counter',
    labelNames: ['hook', 'module'],
  },
  eventLoopUtilization: {
    name: 'mqttd_worker_event_loop_utilization_ratio',
    help: 'Event-loop utilization (0..1) of each worker thread since the previous scrape.',
    type: 'gauge',
    labelNames: ['worker'],
    aggregator: 'max',
  },
  workerRestarts: {
    name: 'mqttd_worker_restarts_total',
    help: 'Worker threads that died and were replaced.',
    type: 'counter',
    labelNames: [],
  },
  buildInfo: {
    name: 'mqttd_build_info',
    help: 'Always 1; the labels carry the mqttd version and the Node.js version.',
    type: 'gauge',
    labelNames: ['version', 'node'],
    aggregator: 'first',
  },
  scrapeMisses: {
    name: 'mqttd_metrics_scrape_misses_total',
    help: 'Worker answers missing from a scrape (the worker was stuck; its last snapshot was used).',
    type: 'counter',
    labelNames: [],
  },
  brokerRefusals: {
    name: 'mqttd_broker_refusals_total',
    help: 'PUBLISH packets, wills and subscription filters the broker refused, by packet and reason.',
    type: 'counter',
    labelNames: ['packet', 'reason'],
  },
  brokerSharedGivenBack: {
    name: 'mqttd_broker_shared_given_back_total',
    help: 'Share group messages a member held unacknowledged when its session ended, handed to another member of the group.',
    type: 'counter',
    labelNames: [],
  },
  brokerSessions: {
    name: 'mqttd_broker_sessions',
    help: 'Broker sessions, online (a client is connected) or offline (persistent, waiting for its client).',
    type: 'gauge',
    labelNames: ['state'],
    aggregator: 'sum',
  },
  brokerSubscriptions: {
    name: 'mqttd_broker_subscriptions',
    help: 'Subscriptions held by the broker sessions (shared subscriptions included).',
    type: 'gauge',
    labelNames: [],
    aggregator: 'sum',
  },
  brokerQueuedMessages: {
    name: 'mqttd_broker_queued_messages',
    help: 'QoS 1/2 messages waiting in session queues behind the in-flight window.',
    type: 'gauge',
    labelNames: [],
    aggregator: 'sum',
  },
  brokerInflightMessages: {
    name: 'mqttd_broker_inflight_messages',
    help: 'QoS 1/2 messages sent to clients and not yet acknowledged.',
    type: 'gauge',
    labelNames: [],
    aggregator: 'sum',
  },
  brokerRetainedMessages: {
    name: 'mqttd_broker_retained_messages',
    help: 'Retained messages stored (every worker holds the same replica; the merge keeps the largest).',
    type: 'gauge',
    labelNames: [],
    aggregator: 'max',
  },
  brokerRetainedBytes: {
    name: 'mqttd_broker_retained_bytes',
    help: 'Accounted size of the retained store of one worker (topic, payload, properties and per-entry overhead), the figure broker.retained.maxBytes bounds.',
    type: 'gauge',
    labelNames: [],
    aggregator: 'max',
  },
  authFailures: {
    name: 'mqttd_auth_failures_total',
    help: 'CONNECTs refused by the built-in authentication, by reason.',
    type: 'counter',
    labelNames: ['reason'],
  },
  aclDenied: {
    name: 'mqttd_acl_denied_total',
    help: 'PUBLISH and SUBSCRIBE requests refused by the built-in ACL, by action.',
    type: 'counter',
    labelNames: ['action'],
  },
  lingeringSockets: {
    name: 'mqttd_lingering_sockets',
    help: 'Closed connections whose socket still drains what the client sends, so it reads the final CONNACK or DISCONNECT.',
    type: 'gauge',
    labelNames: [],
    aggregator: 'sum',
  },
  lingerOverflows: {
    name: 'mqttd_linger_overflows_total',
    help: 'Sockets closed at once after a final CONNACK or DISCONNECT because limits.maxLingering sockets lingered already.',
    type: 'counter',
    labelNames: [],
  },
  clusterMessages: {
    name: 'mqttd_cluster_messages_total',
    help: 'Messages this node sent to the other nodes of the cluster (direction out) and received from them (in), over NATS.',
    type: 'counter',
    labelNames: ['node', 'direction'],
  },
  clusterReconnects: {
    name: 'mqttd_cluster_nats_reconnects_total',
    help: 'Times a NATS connection of this node (one per worker) came back after it was lost.',
    type: 'counter',
    labelNames: ['node'],
  },
  clusterDeadLooks: {
    name: 'mqttd_cluster_dead_worker_looks_total',
    help: "Looks this node's workers took for dead workers (worker consumers whose subscriptions are gone from NATS).",
    type: 'counter',
    labelNames: ['node'],
  },
  clusterAdoptions: {
    name: 'mqttd_cluster_adoptions_total',
    help: 'Dead workers whose persistent sessions and JetStream consumer this node adopted.',
    type: 'counter',
    labelNames: ['node'],
  },
  clusterStreamRecovered: {
    name: 'mqttd_cluster_stream_recovered_total',
    help: 'JetStream messages recovered after NATS trouble: `restart_lost` acknowledged publishes the stream lost in a nats-server restart, sent again by their worker; `connection_lost` messages the server sent into a worker connection as it died, asked for again.',
    type: 'counter',
    labelNames: ['node', 'cause'],
  },
  clusterSharedGivenBack: {
    name: 'mqttd_cluster_shared_given_back_total',
    help: 'Share group messages given back to their group (for another member) because the member holding them ended its session unacknowledged.',
    type: 'counter',
    labelNames: ['node'],
  },
} as const satisfies Record<string, MetricSpec>

/** Gauges whose `worker` label the main thread sets to the worker index (see MetricsAggregator). */
export const perWorkerMetricNames: ReadonlySet<string> = new Set([
  metricSpecs.workerConnections.name,
  metricSpecs.eventLoopUtilization.name,
])
