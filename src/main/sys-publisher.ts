/**
 * Publishes the `$SYS/broker/...` tree (src/broker/sys-tree.ts) every
 * `broker.sysInterval` seconds: one publisher for the whole server, in the
 * main thread, which already merges every worker's metrics. Each update asks
 * one live worker's broker to publish the values that changed since the last
 * update it confirmed, as retained QoS 0 messages; the broker replicates
 * retained messages to every worker and routes them to subscribers wherever
 * they are. Values of an update no worker confirmed count as unpublished and go out with the next one.
 */

import type { Logger } from 'pino'
import { connectedClients, sysPublishRequest, sysTree } from '../broker/sys-tree.ts'
import type { ControlClient } from '../control/control-channel.ts'
import type { SysPublishRequest } from '../control/protocol.ts'
import { AggregatorRegistry } from '../metrics/prom-main.ts'
import type { MetricJSON } from '../metrics/snapshot.ts'

export interface SysPublisherOptions {
  intervalSeconds: number
  /** The merge inputs of a scrape (`MetricsAggregator.collect`). */
  collect: () => Promise<MetricJSON[][]>
  control: ControlClient
  /** Live workers' thread ids; the first one publishes. */
  workerThreadIds: () => readonly number[]
  version: string
  log: Logger
  /** How long an update waits for the worker, ms; default 1000. */
  timeoutMs?: number
}

export class SysPublisher {
  readonly #o: SysPublisherOptions
  readonly #startedAt = Date.now()
  readonly #published = new Map<string, string>()
  #maximum = 0
  #timer: NodeJS.Timeout | undefined
  #running: Promise<void> | undefined

  constructor(options: SysPublisherOptions) {
    this.#o = options
  }

  /** Publishes now, then every interval (the timer does not keep the process alive). */
  start(): void {
    if (this.#o.intervalSeconds <= 0 || this.#timer !== undefined) return
    this.#timer = setInterval(() => void this.update(), this.#o.intervalSeconds * 1000)
    this.#timer.unref()
    void this.update()
  }

  /** One update; overlapping calls share the one in progress. Never throws (failures are logged). */
  update(): Promise<void> {
    this.#running ??= this.#update()
      .catch((err: unknown) => this.#o.log.warn({ err }, '$SYS update failed'))
      .finally(() => {
        this.#running = undefined
      })
    return this.#running
  }

  async #update(): Promise<void> {
    const sources = await this.#o.collect()
    const merged = (await AggregatorRegistry.aggregate(sources).getMetricsAsJSON()) as unknown as MetricJSON[]
    this.#maximum = Math.max(this.#maximum, connectedClients(merged))
    const tree = sysTree(merged, {
      version: this.#o.version,
      uptimeSeconds: (Date.now() - this.#startedAt) / 1000,
      maximumConnected: this.#maximum,
    })
    const messages: [string, string][] = []
    for (const [topic, value] of tree) if (this.#published.get(topic) !== value) messages.push([topic, value])
    const target = this.#o.workerThreadIds()[0]
    if (messages.length === 0 || target === undefined) return
    const payload: SysPublishRequest = { messages }
    const result = await this.#o.control.request(sysPublishRequest, payload, {
      expectedWorkers: 1,
      target,
      timeoutMs: this.#o.timeoutMs ?? 1000,
    })
    if (!result.replies.has(target)) return
    for (const [topic, value] of messages) this.#published.set(topic, value)
  }

  /** Stops the updates (an update in progress finishes). */
  async stop(): Promise<void> {
    clearInterval(this.#timer)
    this.#timer = undefined
    await this.#running
  }
}
