/**
 * Subscribers of the pub scenario: each counts what it receives and records
 * end-to-end latency from the stamp in the payload (see publish-template.ts).
 */
import { Histogram } from './histogram.ts'
import { LoadClient } from './load-client.ts'
import { nowUs, readStamp } from './publish-template.ts'
import type { Target } from './transport.ts'

export interface SubscriberOptions {
  target: Target
  protocolVersion: 4 | 5
  runId: string
  count: number
  filter: string
  /** Subscriber i's filter, when each has its own. */
  filterOf?: (i: number) => string
  /** Clean session; false: persistent sessions. Default true. */
  clean?: boolean
  qos: 0 | 1
  sourceIps: string[]
  timeoutMs: number
}

export class Subscribers {
  readonly latency = new Histogram()
  readonly clients: LoadClient[] = []
  received = 0
  /** performance.now() of the last message received. */
  lastReceivedAt = 0
  errors: string[] = []
  /** Called on every message (used to finish early once all expected arrived). */
  onMessage: () => void = () => {}

  async connect(opts: SubscriberOptions): Promise<void> {
    const clients = await Promise.all(
      Array.from({ length: opts.count }, async (_, i) => {
        const { client } = await LoadClient.open(opts.target, {
          clientId: `lt-${opts.runId}-s${i}`,
          protocolVersion: opts.protocolVersion,
          keepalive: 60,
          clean: opts.clean ?? true,
          localAddress: opts.sourceIps[i % opts.sourceIps.length],
          timeoutMs: opts.timeoutMs,
        })
        client.onPublish = (payload) => {
          this.received++
          this.lastReceivedAt = performance.now()
          const stamp = readStamp(payload)
          if (stamp) this.latency.record(nowUs() - stamp.sentUs)
          this.onMessage()
        }
        client.onClose = (err) => {
          if (err) this.errors.push(`subscriber ${i}: ${err.message}`)
        }
        await client.subscribe(opts.filterOf?.(i) ?? opts.filter, opts.qos)
        return client
      }),
    )
    this.clients.push(...clients)
  }

  close(): void {
    for (const c of this.clients) c.close()
  }
}
