/**
 * The status summary behind `GET /status` (and the status page's overview and
 * broker views): a few aggregate figures read from the merged metrics, so it
 * costs one scrape whatever the number of clients.
 *
 * Broker gauges are read by name and may be absent (the broker is optional,
 * and its gauges can be named differently in other versions): a missing one
 * is `null`, never an error. Every other `mqttd_broker_*` gauge is listed too.
 */
import type { MetricJSON } from '../metrics/snapshot.ts'

/** A listener as the status shows it. */
export interface ListenerStatus {
  name: string
  type: string
  host: string
  port: number
  /** ws/wss: the URL path. */
  path?: string
  connections: number
  accepted: number
}

export interface BrokerStatus {
  sessions: number | null
  subscriptions: number | null
  retainedMessages: number | null
  retainedBytes: number | null
  queuedMessages: number | null
  /** Messages dropped because a client's queue was full or the client too slow. */
  queueDrops: number
  /** Every other broker gauge the metrics expose, by name. */
  other: Array<{ name: string; help: string; value: number }>
}

export interface StatusSummary {
  version: string
  node: string
  /** When the server started, ISO 8601. */
  startedAt: string
  uptimeSeconds: number
  workers: number
  connections: number
  listeners: ListenerStatus[]
  totals: { messagesIn: number; messagesOut: number; bytesIn: number; bytesOut: number; accepted: number }
  /** Since start, by reason. */
  dropped: Record<string, number>
  /** Since start, by reason. */
  rejected: Record<string, number>
  broker: BrokerStatus
}

export interface StatusListener {
  name: string
  type: string
  host: string
  port: number
  path?: string
}

export interface StatusSources {
  /** The merged metrics (`MetricsAggregator.merged`). */
  metrics: () => Promise<MetricJSON[]>
  listeners: () => readonly StatusListener[]
  workers: () => number
  /** Epoch ms. */
  startedAt: number
}

// Candidate names per figure, first found wins: the broker gauges are new and their names may settle.
const brokerGauges = {
  sessions: ['mqttd_broker_sessions', 'mqttd_sessions'],
  subscriptions: ['mqttd_broker_subscriptions', 'mqttd_subscriptions'],
  retainedMessages: ['mqttd_broker_retained_messages', 'mqttd_retained_messages'],
  retainedBytes: [
    'mqttd_broker_retained_bytes',
    'mqttd_retained_bytes',
    'mqttd_broker_retained_messages_bytes',
  ],
  queuedMessages: ['mqttd_broker_queued_messages', 'mqttd_queued_messages', 'mqttd_broker_queue_messages'],
} as const

const queueDropReasons = new Set(['queue_full', 'slow_consumer'])

/** A family's total over its series (histogram parts left out). */
function sum(metric: MetricJSON | undefined): number {
  let total = 0
  for (const v of metric?.values ?? []) {
    if (v.metricName === undefined || v.metricName === metric?.name) total += v.value
  }
  return total
}

function sumBy(metric: MetricJSON | undefined, label: string): Record<string, number> {
  const out: Record<string, number> = {}
  for (const v of metric?.values ?? []) {
    const key = String(v.labels[label] ?? '')
    out[key] = (out[key] ?? 0) + v.value
  }
  return out
}

/** Builds the summary from one merge of every thread's metrics. */
export async function readStatus(sources: StatusSources): Promise<StatusSummary> {
  const families = new Map((await sources.metrics()).map((m) => [m.name, m]))
  const get = (name: string) => families.get(name)
  const build = get('mqttd_build_info')?.values[0]?.labels ?? {}
  const connectionsBy = sumBy(get('mqttd_connections'), 'listener')
  const acceptedBy = sumBy(get('mqttd_connections_accepted_total'), 'listener')
  const dropped = sumBy(get('mqttd_messages_dropped_total'), 'reason')

  const gauge = (names: readonly string[]): number | null => {
    for (const name of names) {
      const m = get(name)
      if (m !== undefined) return sum(m)
    }
    return null
  }
  const known = new Set<string>(Object.values(brokerGauges).flat())
  const other = [...families.values()]
    .filter((m) => m.type === 'gauge' && m.name.startsWith('mqttd_broker_') && !known.has(m.name))
    .map((m) => ({ name: m.name, help: m.help, value: sum(m) }))

  let queueDrops = 0
  for (const [reason, n] of Object.entries(dropped)) if (queueDropReasons.has(reason)) queueDrops += n

  const listeners = sources.listeners().map((l) => ({
    name: l.name,
    type: l.type,
    host: l.host,
    port: l.port,
    ...(l.path === undefined ? {} : { path: l.path }),
    connections: connectionsBy[l.name] ?? 0,
    accepted: acceptedBy[l.name] ?? 0,
  }))

  return {
    version: String(build.version ?? 'unknown'),
    node: String(build.node ?? process.versions.node),
    startedAt: new Date(sources.startedAt).toISOString(),
    uptimeSeconds: Math.max(0, Math.round((Date.now() - sources.startedAt) / 1000)),
    workers: sources.workers(),
    connections: sum(get('mqttd_connections')),
    listeners,
    totals: {
      messagesIn: sum(get('mqttd_messages_received_total')),
      messagesOut: sum(get('mqttd_messages_sent_total')),
      bytesIn: sum(get('mqttd_bytes_received_total')),
      bytesOut: sum(get('mqttd_bytes_sent_total')),
      accepted: sum(get('mqttd_connections_accepted_total')),
    },
    dropped,
    rejected: sumBy(get('mqttd_connections_rejected_total'), 'reason'),
    broker: {
      sessions: gauge(brokerGauges.sessions),
      subscriptions: gauge(brokerGauges.subscriptions),
      retainedMessages: gauge(brokerGauges.retainedMessages),
      retainedBytes: gauge(brokerGauges.retainedBytes),
      queuedMessages: gauge(brokerGauges.queuedMessages),
      queueDrops,
      other,
    },
  }
}
