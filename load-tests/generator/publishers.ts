/**
 * Runs a set of publishers (one shard: the whole set in one thread, or a
 * slice of it in a worker thread). Each publisher owns one connection and
 * one topic; QoS 1 publishers keep at most `window` PUBLISHes unacknowledged.
 */
import { Histogram, type SerializedHistogram } from './histogram.ts'
import { LoadClient } from './load-client.ts'
import { nowUs, PublishTemplate } from './publish-template.ts'
import type { Target } from './transport.ts'

export interface PublisherShardOptions {
  target: Target
  protocolVersion: 4 | 5
  runId: string
  /** Global publisher indices this shard runs. */
  indices: number[]
  /** Topic prefix; publisher i publishes to `${topicPrefix}/${i}`. */
  topicPrefix: string
  qos: 0 | 1
  payload: number
  /** Messages per publisher (upper bound). */
  messages: number
  /** Messages per second per publisher; 0 = as fast as the window and socket allow. */
  ratePerPublisher: number
  window: number
  durationMs: number
  sourceIps: string[]
  timeoutMs: number
}

export interface PublisherShardResult {
  sent: number
  acked: number
  errors: string[]
  ackLatency: SerializedHistogram
  connectLatency: SerializedHistogram
  elapsedMs: number
}

/** Progress slots: [sent, acked] written by the shard, read by the main thread. */
export type Counters = Int32Array

const BATCH = 64

interface Pub {
  index: number
  client: LoadClient
  template: PublishTemplate
  sent: number
  acked: number
  inflight: number
  nextId: number
  sentAt: Float64Array | null
  wake: (() => void) | null
}

/** Connects every publisher of the shard; resolves when all have their CONNACK. */
export async function connectPublishers(opts: PublisherShardOptions, connectHist: Histogram): Promise<Pub[]> {
  return Promise.all(
    opts.indices.map(async (index, i) => {
      const { client, connectMs } = await LoadClient.open(opts.target, {
        clientId: `lt-${opts.runId}-p${index}`,
        protocolVersion: opts.protocolVersion,
        keepalive: 60,
        clean: true,
        localAddress: opts.sourceIps[i % opts.sourceIps.length],
        timeoutMs: opts.timeoutMs,
      })
      connectHist.record(connectMs * 1000)
      return {
        index,
        client,
        template: new PublishTemplate(
          `${opts.topicPrefix}/${index}`,
          opts.payload,
          opts.qos,
          opts.protocolVersion,
        ),
        sent: 0,
        acked: 0,
        inflight: 0,
        nextId: 1,
        sentAt: opts.qos > 0 ? new Float64Array(65536) : null,
        wake: null,
      }
    }),
  )
}

/**
 * Publishes until every publisher sent `messages`, or `durationMs` passed,
 * then waits (bounded) for outstanding PUBACKs and disconnects.
 */
export async function runPublishers(
  opts: PublisherShardOptions,
  pubs: Pub[],
  counters: Counters | null,
  slot: number,
  connectHist: Histogram,
): Promise<PublisherShardResult> {
  const ackHist = new Histogram()
  const errors: string[] = []
  const t0 = performance.now()
  const deadline = t0 + opts.durationMs
  let stopped = false
  const stopTimer = setTimeout(() => {
    stopped = true
    for (const p of pubs) p.wake?.()
  }, opts.durationMs)

  for (const p of pubs) {
    p.client.onPuback = (id) => {
      p.acked++
      p.inflight--
      if (p.sentAt) ackHist.record(nowUs() - p.sentAt[id]!)
      p.wake?.()
    }
    p.client.onClose = (err) => {
      if (err) errors.push(`publisher ${p.index}: ${err.message}`)
      stopped = true
      p.wake?.()
    }
  }

  const sendBatch = (p: Pub, n: number): boolean => {
    const len = p.template.length
    const buf = Buffer.allocUnsafe(len * n)
    const ts = nowUs()
    for (let k = 0; k < n; k++) {
      const id = p.nextId
      p.nextId = id === 65535 ? 1 : id + 1
      p.template.write(buf, k * len, ts, p.index, p.sent + k, id)
      if (p.sentAt) p.sentAt[id] = ts
    }
    p.sent += n
    if (opts.qos > 0) p.inflight += n
    return p.client.write(buf)
  }

  const room = (p: Pub) => {
    let n = opts.messages - p.sent
    if (opts.qos > 0) n = Math.min(n, opts.window - p.inflight)
    return n
  }

  const publishProgress = () => {
    if (!counters) return
    let sent = 0
    let acked = 0
    for (const p of pubs) {
      sent += p.sent
      acked += p.acked
    }
    counters[slot * 2] = sent
    counters[slot * 2 + 1] = acked
  }
  const progressTimer = setInterval(publishProgress, 200)

  if (opts.ratePerPublisher > 0) {
    // paced: a 2 ms ticker sends what is due; a publisher that fell behind
    // (window full, socket backed up) catches up in bigger batches later
    await new Promise<void>((resolve) => {
      const tick = setInterval(() => {
        const elapsedS = (performance.now() - t0) / 1000
        let done = true
        for (const p of pubs) {
          if (p.sent >= opts.messages || p.client.closed) continue
          done = false
          if (p.client.stream.writableNeedDrain) continue
          const due = Math.min(opts.messages, Math.floor(elapsedS * opts.ratePerPublisher)) - p.sent
          const n = Math.min(due, room(p))
          if (n > 0) sendBatch(p, n)
        }
        if (done || stopped || performance.now() >= deadline) {
          clearInterval(tick)
          resolve()
        }
      }, 2)
    })
  } else {
    await Promise.all(
      pubs.map(async (p) => {
        while (!stopped && p.sent < opts.messages && !p.client.closed) {
          const n = Math.min(BATCH, room(p))
          if (n <= 0) {
            // QoS 1 window full: wait for a PUBACK
            await new Promise<void>((resolve) => {
              p.wake = resolve
            })
            p.wake = null
            continue
          }
          if (!sendBatch(p, n)) await p.client.drain()
          // let the event loop read (PUBACKs, subscribers) between batches
          else await new Promise<void>((resolve) => setImmediate(resolve))
        }
      }),
    )
  }
  clearTimeout(stopTimer)

  // bounded wait for the last PUBACKs
  if (opts.qos > 0) {
    const until = performance.now() + Math.min(5000, opts.timeoutMs)
    while (pubs.some((p) => p.inflight > 0 && !p.client.closed) && performance.now() < until) {
      await new Promise((resolve) => setTimeout(resolve, 5))
    }
  }
  await Promise.all(pubs.map((p) => p.client.drain()))
  const elapsedMs = performance.now() - t0
  clearInterval(progressTimer)
  publishProgress()
  for (const p of pubs) p.client.close()

  let sent = 0
  let acked = 0
  for (const p of pubs) {
    sent += p.sent
    acked += p.acked
  }
  return {
    sent,
    acked,
    errors,
    ackLatency: ackHist.serialize(),
    connectLatency: connectHist.serialize(),
    elapsedMs,
  }
}
