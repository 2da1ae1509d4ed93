/**
 * Example handler: forwards selected PUBLISH packets to an HTTP endpoint, without ever holding
 * up the client. onPublish only enqueues; a few senders per worker POST from the queue with
 * retries and exponential backoff. A full queue drops the message and counts it.
 *
 *   handlers:
 *     - module: ./handlers/webhook.ts
 *       options:
 *         url: http://collector:8080/mqtt
 *         topics: ["sensors/#", "alerts/+"]   # filters; default ["#"]
 *         concurrency: 4                       # requests in flight per worker
 *         queueSize: 1000                      # waiting messages per worker
 *         retries: 3                           # after the first attempt
 *         backoffMs: 200                       # doubled after each failed attempt
 *         timeoutMs: 5000                      # per request
 *         flushTimeoutMs: 2000                 # on shutdown, time left to empty the queue
 *         headers: { authorization: "Bearer …" }
 *
 * Each request is a JSON POST: { topic, payload (base64), qos, retain, clientId, username,
 * timestamp }. 2xx is delivered; 4xx other than 408/429 is not retried. Metrics (summed over
 * workers on /metrics): mqttd_webhook_messages_total{outcome="delivered|dropped|failed"},
 * mqttd_webhook_retries_total, mqttd_webhook_queue_length.
 */
import { setTimeout as sleep } from 'node:timers/promises'
import { defineHandler, type WorkerContext } from 'mqttd'
import { Counter, Gauge } from 'prom-client'
import { topicMatches } from './lib/topic-acl.ts'

export interface WebhookOptions {
  url: string
  topics?: string[]
  concurrency?: number
  queueSize?: number
  retries?: number
  backoffMs?: number
  timeoutMs?: number
  flushTimeoutMs?: number
  headers?: Record<string, string>
}

interface Job {
  body: string
}

/** Whether an HTTP status is worth another attempt. */
function retryable(status: number): boolean {
  return status >= 500 || status === 408 || status === 429
}

export default defineHandler((options, worker: WorkerContext) => {
  const opts = options as unknown as WebhookOptions
  if (typeof opts.url !== 'string') throw new TypeError('webhook: options.url is required')
  const url = new URL(opts.url)
  const topics = opts.topics ?? ['#']
  const concurrency = opts.concurrency ?? 4
  const queueSize = opts.queueSize ?? 1000
  const retries = opts.retries ?? 3
  const backoffMs = opts.backoffMs ?? 200
  const timeoutMs = opts.timeoutMs ?? 5000
  const flushTimeoutMs = opts.flushTimeoutMs ?? 2000
  const headers = { 'content-type': 'application/json', ...opts.headers }

  const messages = new Counter({
    name: 'mqttd_webhook_messages_total',
    help: 'Messages selected for the webhook, by outcome.',
    labelNames: ['outcome'],
    registers: [worker.metrics],
  })
  const retriesTotal = new Counter({
    name: 'mqttd_webhook_retries_total',
    help: 'Webhook requests repeated after a failure.',
    registers: [worker.metrics],
  })
  const queueLength = new Gauge({
    name: 'mqttd_webhook_queue_length',
    help: 'Messages waiting for a webhook request.',
    registers: [worker.metrics],
  })
  for (const outcome of ['delivered', 'dropped', 'failed']) messages.inc({ outcome }, 0)

  const queue: Job[] = []
  let active = 0
  let stopping = false
  const idle: Array<() => void> = []
  const aborter = new AbortController()

  async function deliver(job: Job): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      let status = 0
      try {
        const signal = AbortSignal.any([aborter.signal, AbortSignal.timeout(timeoutMs)])
        const res = await fetch(url, { method: 'POST', headers, body: job.body, signal })
        status = res.status
        await res.body?.cancel()
        if (res.ok) {
          messages.inc({ outcome: 'delivered' })
          return
        }
      } catch (err) {
        if (aborter.signal.aborted) break
        worker.log.debug({ err }, 'webhook: request failed')
      }
      if ((status !== 0 && !retryable(status)) || attempt >= retries) break
      retriesTotal.inc()
      await sleep(backoffMs * 2 ** attempt, undefined, { signal: aborter.signal }).catch(() => {})
      if (aborter.signal.aborted) break
    }
    messages.inc({ outcome: 'failed' })
  }

  function pump(): void {
    while (active < concurrency && queue.length > 0) {
      const job = queue.shift()!
      active++
      queueLength.set(queue.length)
      deliver(job).finally(() => {
        active--
        pump()
        if (active === 0 && queue.length === 0) for (const resolve of idle.splice(0)) resolve()
      })
    }
  }

  return {
    name: 'webhook',

    onPublish(ctx, packet) {
      if (stopping || !topics.some((f) => topicMatches(f, packet.topic))) return undefined
      if (queue.length >= queueSize) {
        messages.inc({ outcome: 'dropped' })
        return undefined
      }
      const payload = typeof packet.payload === 'string' ? Buffer.from(packet.payload) : packet.payload
      queue.push({
        body: JSON.stringify({
          topic: packet.topic,
          payload: payload.toString('base64'),
          qos: packet.qos,
          retain: packet.retain,
          clientId: ctx.clientId,
          username: ctx.connectPacket?.username ?? null,
          timestamp: new Date().toISOString(),
        }),
      })
      queueLength.set(queue.length)
      pump()
      // Never wait for the request: the client's PUBACK and the broker's routing go on now.
      return undefined
    },

    async shutdown() {
      // Give queued messages flushTimeoutMs to go out, then abandon the rest (counted as dropped).
      stopping = true
      if (active > 0 || queue.length > 0) {
        const drained = new Promise<void>((resolve) => idle.push(resolve))
        await Promise.race([drained, sleep(flushTimeoutMs, undefined, { ref: false })])
      }
      aborter.abort()
      const left = queue.splice(0).length
      if (left > 0) messages.inc({ outcome: 'dropped' }, left)
      queueLength.set(0)
    },
  }
})
