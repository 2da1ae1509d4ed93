/**
 * pub: N publishers × payload × QoS, M subscribers on a wildcard (or a shared
 * subscription), optionally paced to a total rate. Reports throughput, loss,
 * end-to-end latency (payload stamp → subscriber) and, for QoS 1, PUBLISH →
 * PUBACK latency.
 */
import { Histogram } from './histogram.ts'
import type { PubConfig } from './options.ts'
import { CpuMeter, rssBytes } from './proc-stats.ts'
import { startProgress } from './progress.ts'
import { startPublisherShards } from './shards.ts'
import { Subscribers } from './subscribers.ts'

export async function runPub(cfg: PubConfig, runId: string) {
  const prefix = `lt/${runId}`
  const subs = new Subscribers()
  await subs.connect({
    target: cfg.target,
    protocolVersion: cfg.protocolVersion,
    runId,
    count: cfg.pairs ? cfg.publishers : cfg.subscribers,
    filter: cfg.shared ? `$share/lt${runId}/${prefix}/#` : `${prefix}/#`,
    filterOf: cfg.pairs ? (i) => `${prefix}/${i}` : undefined,
    clean: !cfg.persistent,
    qos: cfg.subQos,
    sourceIps: cfg.sourceIps,
    timeoutMs: cfg.timeoutMs,
  })
  const shards = await startPublisherShards(
    {
      target: cfg.target,
      protocolVersion: cfg.protocolVersion,
      runId,
      indices: Array.from({ length: cfg.publishers }, (_, i) => i),
      topicPrefix: prefix,
      qos: cfg.qos,
      payload: cfg.payload,
      messages: cfg.messages,
      ratePerPublisher: cfg.rate / cfg.publishers,
      window: cfg.window,
      durationMs: cfg.durationS * 1000,
      sourceIps: cfg.sourceIps,
      timeoutMs: cfg.timeoutMs,
    },
    cfg.threads,
  )
  const fanout = cfg.pairs ? 1 : cfg.subscribers === 0 ? 0 : cfg.shared ? 1 : cfg.subscribers
  const cpu = new CpuMeter(cfg.serverPid)
  const sentNow = () => {
    let s = 0
    for (let i = 0; i < shards.counters.length; i += 2) s += shards.counters[i]!
    return s
  }
  const progress = startProgress(cfg.quiet, (dt) => {
    const sent = sentNow()
    const line = `sent ${sent}  recv ${subs.received}  p99 ${(subs.latency.percentile(99) / 1000).toFixed(1)} ms`
    return { line, counters: { sent, recv: subs.received }, dt }
  })
  const t0 = performance.now()
  shards.go()
  const results = await shards.done
  const sendMs = performance.now() - t0
  const sent = results.reduce((s, r) => s + r.sent, 0)
  const expected = sent * fanout
  // Messages still queued in the broker keep arriving after the last publish:
  // wait while they do (bounded: 30 s, or 1.5 s without progress), so `lost`
  // counts messages that never came, not messages that came late.
  await new Promise<void>((resolve) => {
    let last = subs.received
    let quietSince = performance.now()
    const cap = performance.now() + 30_000
    const poll = setInterval(() => {
      const now = performance.now()
      if (subs.received !== last) {
        last = subs.received
        quietSince = now
      }
      if (subs.received >= expected || now - quietSince > 1500 || now > cap) done()
    }, 20)
    function done() {
      clearInterval(poll)
      subs.onMessage = () => {}
      resolve()
    }
    subs.onMessage = () => {
      if (subs.received >= expected) done()
    }
  })
  const totalMs = performance.now() - t0
  const usage = cpu.read()
  progress.stop()
  const serverRss = cfg.serverPid === undefined ? null : rssBytes(cfg.serverPid)
  subs.close()

  const ack = new Histogram()
  const connect = new Histogram()
  for (const r of results) {
    ack.merge(r.ackLatency)
    connect.merge(r.connectLatency)
  }
  const acked = results.reduce((s, r) => s + r.acked, 0)
  const received = subs.received
  return {
    publishers: cfg.publishers,
    subscribers: cfg.pairs ? cfg.publishers : cfg.subscribers,
    pairs: cfg.pairs,
    persistent: cfg.persistent,
    payload: cfg.payload,
    qos: cfg.qos,
    subQos: cfg.subQos,
    shared: cfg.shared,
    targetRate: cfg.rate,
    window: cfg.qos > 0 ? cfg.window : null,
    sent,
    acked: cfg.qos > 0 ? acked : null,
    expected,
    received,
    lost: Math.max(0, expected - received),
    lossPct: expected === 0 ? 0 : round3(((expected - Math.min(received, expected)) / expected) * 100),
    duplicates: Math.max(0, received - expected),
    sendSeconds: round3(sendMs / 1000),
    seconds: round3(totalMs / 1000),
    sentPerSecond: Math.round(sent / (sendMs / 1000)),
    ackedPerSecond: cfg.qos > 0 ? Math.round(acked / (sendMs / 1000)) : null,
    /** Delivery rate up to the last message received (the quiet wait is not counted). */
    receivedPerSecond: Math.round(received / (Math.max(1, subs.lastReceivedAt - t0) / 1000)),
    latency: subs.latency.summary(),
    ackLatency: cfg.qos > 0 ? ack.summary() : null,
    connectLatency: connect.summary(),
    cpu: {
      generatorPct: usage.generatorPct,
      serverPct: usage.serverPct,
      generatorSeconds: usage.generatorSeconds,
      serverSeconds: usage.serverSeconds,
    },
    serverRssBytes: serverRss,
    errors: [...results.flatMap((r) => r.errors), ...subs.errors].slice(0, 20),
  }
}

function round3(x: number): number {
  return Math.round(x * 1000) / 1000
}
