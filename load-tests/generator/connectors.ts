/**
 * Opens many connections (conn and idle scenarios): at a target rate or as
 * fast as `concurrency` in-flight handshakes allow, with source addresses
 * rotating over 127.0.0.x. Held connections send PINGREQ so a server that
 * enforces keepalive keeps them.
 */
import { Histogram, type SerializedHistogram } from './histogram.ts'
import { LoadClient } from './load-client.ts'
import type { Target } from './transport.ts'

export interface ConnectorOptions {
  target: Target
  protocolVersion: 4 | 5
  runId: string
  /** Global connection indices [from, to). */
  from: number
  to: number
  /** Connections per second for this shard; 0 = unpaced. */
  rate: number
  concurrency: number
  keepalive: number
  sourceIps: string[]
  timeoutMs: number
  /** Hard stop for the connect phase. */
  durationMs: number
}

export interface ConnectorResult {
  connected: number
  failed: number
  errors: string[]
  connectLatency: SerializedHistogram
  /** From the first connect attempt to the last CONNACK. */
  elapsedMs: number
}

export class Connectors {
  readonly clients: LoadClient[] = []
  readonly latency = new Histogram()
  connected = 0
  failed = 0
  closedByServer = 0
  readonly errors = new Map<string, number>()
  #pingTimer: NodeJS.Timeout | null = null

  async open(opts: ConnectorOptions): Promise<ConnectorResult> {
    const t0 = performance.now()
    const deadline = t0 + opts.durationMs
    let next = opts.from
    let lastDone = t0
    const one = async (i: number) => {
      try {
        const { client, connectMs } = await LoadClient.open(opts.target, {
          clientId: `lt-${opts.runId}-c${i}`,
          protocolVersion: opts.protocolVersion,
          keepalive: opts.keepalive,
          clean: true,
          localAddress: opts.sourceIps[i % opts.sourceIps.length],
          timeoutMs: opts.timeoutMs,
        })
        this.latency.record(connectMs * 1000)
        this.connected++
        client.onClose = (err) => {
          if (err) this.closedByServer++
        }
        this.clients.push(client)
      } catch (err) {
        this.failed++
        const msg = (err as Error).message
        this.errors.set(msg, (this.errors.get(msg) ?? 0) + 1)
      }
      lastDone = performance.now()
    }
    const lanes = Array.from({ length: Math.max(1, opts.concurrency) }, async () => {
      while (next < opts.to && performance.now() < deadline) {
        if (opts.rate > 0) {
          // pace: connection k of this shard starts no earlier than k / rate
          const due = t0 + ((next - opts.from) / opts.rate) * 1000
          const wait = due - performance.now()
          if (wait > 0) await new Promise((r) => setTimeout(r, wait))
          if (performance.now() >= deadline) break
        }
        const i = next++
        await one(i)
      }
    })
    await Promise.all(lanes)
    return {
      connected: this.connected,
      failed: this.failed,
      errors: [...this.errors].map(([m, n]) => `${n} × ${m}`),
      connectLatency: this.latency.serialize(),
      elapsedMs: lastDone - t0,
    }
  }

  /** Keeps held connections alive with PINGREQ at half the keepalive. */
  keepAlive(keepaliveS: number): void {
    if (keepaliveS <= 0) return
    this.#pingTimer = setInterval(
      () => {
        for (const c of this.clients) c.ping()
      },
      (keepaliveS * 1000) / 2,
    )
    this.#pingTimer.unref()
  }

  closeAll(): void {
    if (this.#pingTimer) clearInterval(this.#pingTimer)
    for (const c of this.clients) c.close()
  }

  /** Resolves when every connection has closed, or after `ms`. */
  async waitClosed(ms: number): Promise<void> {
    const until = performance.now() + ms
    while (this.clients.some((c) => !c.closed) && performance.now() < until) {
      await new Promise((r) => setTimeout(r, 20))
    }
  }
}
