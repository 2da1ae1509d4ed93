/**
 * The broker's routing cost in one worker, without sockets: a Router with
 * many sessions (fake links that count packets); each message is matched in
 * the subscription trie and built into one QoS 0 PUBLISH per receiver.
 *
 * Run: node bench/broker-router.bench.ts [sessions=10000] [messages=200000]
 * Prints µs per routed message and per PUBLISH built, for one receiver per
 * message (device topics) and for a fan-out to 100 wildcard subscribers.
 */
import { Router } from '../src/broker/router.ts'
import { Session } from '../src/broker/session.ts'
import { parseFilter } from '../src/protocol/topic.ts'

const sessions = Number(process.argv[2] ?? 10_000)
const messages = Number(process.argv[3] ?? 200_000)
let built = 0
const link = {
  send: () => {
    built++
    return Promise.resolve(true)
  },
  protocolVersion: 5,
  receiveMaximum: 65535,
  topicAliasMaximum: 0,
  maximumPacketSize: undefined,
}
const sub = { qos: 0 as const, nl: false, rap: false, rh: 0, subscriptionId: undefined }

function setup(filterOf: (i: number) => string): Router {
  const router = new Router({
    workerId: 1,
    retained: { maxMessages: 1000, maxBytes: 1e6 },
    post: () => {},
    send: () => {},
    drop: () => {},
    stubTtlMs: 60_000,
    maxQueuedMessages: 1000,
    publishWaitMs: 2000,
    publishCredit: 100,
  })
  for (let i = 0; i < sessions; i++) {
    const session = new Session(`c${i}`, 0, { maxQueuedMessages: 1000, maxPendingWrites: 1e9 }, () => {})
    session.attach(link)
    const filter = filterOf(i)
    router.subscribe(session, filter, parseFilter(filter)!, sub)
  }
  return router
}

const payload = new Uint8Array(64)
async function run(label: string, router: Router, count: number): Promise<void> {
  built = 0
  const t0 = performance.now()
  for (let i = 0; i < count; i++) {
    router.publish({
      topic: `fleet/d${i % sessions}/telemetry`,
      payload,
      qos: 0,
      retain: false,
      properties: undefined,
      expiresAt: undefined,
      origin: 'bench',
    })
    // let the fake sends settle so pending-write counts stay low
    if (i % 1000 === 999) await new Promise((r) => setImmediate(r))
  }
  const ms = performance.now() - t0
  const perMessage = ((ms * 1000) / count).toFixed(2)
  const perPublish = ((ms * 1000) / built).toFixed(2)
  console.log(
    `${label}: ${count} messages → ${built} PUBLISH: ${perMessage} µs/message, ${perPublish} µs/PUBLISH`,
  )
}

await run(
  `1 receiver each (${sessions} device filters)`,
  setup((i) => `fleet/d${i}/telemetry`),
  messages,
)
await run(
  `fan-out 100 (${sessions} sessions, 100 on fleet/+/telemetry)`,
  setup((i) => (i % (sessions / 100) === 0 ? 'fleet/+/telemetry' : `other/d${i}`)),
  messages / 20,
)
