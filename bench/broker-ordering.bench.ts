/**
 * What the ordering rule (a SUBSCRIBE read on any worker before a PUBLISH is
 * read routes it) costs on the publish path: before routing, the Router asks
 * the Cluster to check every peer's shared `subs` cell (one atomic load per
 * peer) and to drain a port only when a peer announced something since. Measured with a real Cluster linked by real ports to idle peer threads,
 * against the same Router without the check, interleaved in one run.
 *
 * Run: node bench/broker-ordering.bench.ts [peers=3] [messages=300000] [rounds=5]
 */
import { isMainThread, threadId, Worker, workerData } from 'node:worker_threads'
import { Cluster } from '../src/broker/cluster.ts'
import { Router } from '../src/broker/router.ts'
import { Session } from '../src/broker/session.ts'
import { parseFilter } from '../src/protocol/topic.ts'

const NAME = `bench-ordering-${process.pid}`

if (!isMainThread) {
  // A peer: holds its end of the port and its cell, announces nothing, stays until terminated
  new Cluster(NAME, threadId, () => {})
  setInterval(() => {}, 60_000)
  Atomics.add(new Int32Array((workerData as { ready: SharedArrayBuffer }).ready), 0, 1)
} else {
  const peers = Number(process.argv[2] ?? 3)
  const messages = Number(process.argv[3] ?? 300_000)
  const rounds = Number(process.argv[4] ?? 5)
  const ready = new SharedArrayBuffer(4)
  const workers = Array.from(
    { length: peers },
    () => new Worker(new URL(import.meta.url), { workerData: { ready } }),
  )
  while (Atomics.load(new Int32Array(ready), 0) < peers) await new Promise((r) => setTimeout(r, 20))
  const cluster = new Cluster(NAME, threadId, () => {})
  for (const w of workers) cluster.meet(w.threadId)
  while (cluster.portCount < peers) await new Promise((r) => setTimeout(r, 20))
  // let each peer's cell arrive over its port
  await new Promise((r) => setTimeout(r, 200))

  const link = {
    send: () => Promise.resolve(true),
    protocolVersion: 5,
    receiveMaximum: 65535,
    topicAliasMaximum: 0,
    maximumPacketSize: undefined,
  }
  const sub = { qos: 0 as const, nl: false, rap: false, rh: 0, subscriptionId: undefined }
  function setup(withCheck: boolean): Router {
    const router = new Router({
      workerId: threadId,
      retained: { maxMessages: 1000, maxBytes: 1e6 },
      post: () => {},
      send: () => {},
      drop: () => {},
      stubTtlMs: 60_000,
      maxQueuedMessages: 1000,
      publishWaitMs: 2000,
      publishCredit: 100,
      ...(withCheck ? { catchUp: () => cluster.catchUp(), drain: (p) => cluster.drain(p) } : {}),
    })
    for (let i = 0; i < 1000; i++) {
      const session = new Session(`c${i}`, 0, { maxQueuedMessages: 1000, maxPendingWrites: 1e9 }, () => {})
      session.attach(link)
      router.subscribe(session, `fleet/d${i}/telemetry`, parseFilter(`fleet/d${i}/telemetry`)!, sub)
    }
    return router
  }
  const payload = new Uint8Array(64)
  // Thread CPU time, not wall time: on a shared machine preemption would swamp a sub-µs difference
  async function rate(router: Router): Promise<number> {
    const t0 = process.threadCpuUsage()
    for (let i = 0; i < messages; i++) {
      router.publish({
        topic: `fleet/d${i % 1000}/telemetry`,
        payload,
        qos: 0,
        retain: false,
        properties: undefined,
        expiresAt: undefined,
        origin: 'bench',
      })
      if (i % 1000 === 999) await new Promise((r) => setImmediate(r))
    }
    const used = process.threadCpuUsage(t0)
    return messages / ((used.user + used.system) / 1e6)
  }
  const without = setup(false)
  // MQTTD_BENCH_SAME=1: both sides without the check, to see the noise floor
  const withCheck = setup(process.env.MQTTD_BENCH_SAME !== '1')
  await rate(without)
  await rate(withCheck)
  const a: number[] = []
  const b: number[] = []
  // ABBA order, so neither side always runs after the other
  for (let k = 0; k < rounds; k++) {
    if (k % 2 === 0) {
      a.push(await rate(without))
      b.push(await rate(withCheck))
    } else {
      b.push(await rate(withCheck))
      a.push(await rate(without))
    }
  }
  const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)]!
  const ma = median(a)
  const mb = median(b)
  console.log(
    `publishes per CPU second of the routing thread (1 receiver each, ${peers} peer ports, median of ${rounds} interleaved rounds):`,
  )
  console.log(`  without the ordering check: ${Math.round(ma).toLocaleString('en-US')}`)
  console.log(
    `  with the ordering check:    ${Math.round(mb).toLocaleString('en-US')}  (ratio ${(mb / ma).toFixed(3)}, ${(((1e6 / mb - 1e6 / ma) * 1000) | 0) / 1000} µs per publish)`,
  )
  cluster.close()
  for (const w of workers) await w.terminate()
}
