/**
 * The `$SYS/broker/...` statistics tree, with mosquitto's topic names and
 * payload formats (mosquitto(8), "Broker Status"), so dashboards and scripts
 * written for mosquitto read mqttd unchanged. The values come from the
 * server's metrics merged across every worker: one tree for the whole server,
 * published by the main thread (see src/main/sys-publisher.ts) through one
 * worker's broker as retained messages.
 */
import type { MetricJSON } from '../metrics/snapshot.ts'

/** Control request a worker's broker answers by publishing `{ messages }` as retained `$SYS` messages. */
export const sysPublishRequest = 'broker:sys' as const

export interface SysFacts {
  version: string
  uptimeSeconds: number
  /** Most clients connected at once since start, as seen at the updates (mosquitto's clients/maximum). */
  maximumConnected: number
}

function sum(
  metrics: ReadonlyMap<string, MetricJSON>,
  name: string,
  labels: Record<string, string> = {},
): number {
  const metric = metrics.get(name)
  if (metric === undefined) return 0
  let total = 0
  for (const v of metric.values) {
    if (v.metricName !== undefined && v.metricName !== name) continue
    if (Object.entries(labels).every(([k, want]) => String(v.labels[k]) === want)) total += v.value
  }
  return total
}

/** Connected clients in the merged metrics: broker sessions with a live connection. */
export function connectedClients(merged: readonly MetricJSON[]): number {
  return sum(new Map(merged.map((m) => [m.name, m])), 'mqttd_broker_sessions', { state: 'online' })
}

/**
 * The tree's topics and payloads from metrics merged across workers.
 * Counters are totals since start; gauges are current values.
 */
export function sysTree(merged: readonly MetricJSON[], facts: SysFacts): Map<string, string> {
  const m = new Map(merged.map((metric) => [metric.name, metric]))
  const online = sum(m, 'mqttd_broker_sessions', { state: 'online' })
  const offline = sum(m, 'mqttd_broker_sessions', { state: 'offline' })
  const int = (n: number) => String(Math.round(n))
  return new Map([
    ['$SYS/broker/version', `mqttd version ${facts.version}`],
    ['$SYS/broker/uptime', `${Math.floor(facts.uptimeSeconds)} seconds`],
    ['$SYS/broker/clients/connected', int(online)],
    ['$SYS/broker/clients/disconnected', int(offline)],
    ['$SYS/broker/clients/total', int(online + offline)],
    ['$SYS/broker/clients/maximum', int(Math.max(facts.maximumConnected, online))],
    // mosquitto's messages/* count every packet type; publish/messages/* count PUBLISH only
    ['$SYS/broker/messages/received', int(sum(m, 'mqttd_packets_received_total'))],
    ['$SYS/broker/messages/sent', int(sum(m, 'mqttd_packets_sent_total'))],
    ['$SYS/broker/publish/messages/received', int(sum(m, 'mqttd_messages_received_total'))],
    ['$SYS/broker/publish/messages/sent', int(sum(m, 'mqttd_messages_sent_total'))],
    ['$SYS/broker/publish/messages/dropped', int(sum(m, 'mqttd_messages_dropped_total'))],
    ['$SYS/broker/bytes/received', int(sum(m, 'mqttd_bytes_received_total'))],
    ['$SYS/broker/bytes/sent', int(sum(m, 'mqttd_bytes_sent_total'))],
    ['$SYS/broker/subscriptions/count', int(sum(m, 'mqttd_broker_subscriptions'))],
    ['$SYS/broker/retained messages/count', int(sum(m, 'mqttd_broker_retained_messages'))],
    // held for delivery or kept: retained, queued and in flight (mosquitto counts its store the same way)
    [
      '$SYS/broker/store/messages/count',
      int(
        sum(m, 'mqttd_broker_retained_messages') +
          sum(m, 'mqttd_broker_queued_messages') +
          sum(m, 'mqttd_broker_inflight_messages'),
      ),
    ],
  ])
}
