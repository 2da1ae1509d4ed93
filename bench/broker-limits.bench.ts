/**
 * What the broker's per-PUBLISH limit checks add on the hot path: topic length
 * and levels (`topicProblem`) and the `$`-topic rule (`mayPublishTo`), against
 * the topic-name validation every PUBLISH already pays (`isValidTopicName`),
 * measured in the same run, interleaved, on typical device topics.
 *
 * Run: node bench/broker-limits.bench.ts [iterations=2000000] [rounds=5]
 * Prints ns per call (median round) and the ratio to the baseline.
 */
import { defaultBrokerLimits, mayPublishTo, topicProblem } from '../src/broker/limits.ts'
import { isValidTopicName } from '../src/protocol/topic.ts'

const iterations = Number(process.argv[2] ?? 2_000_000)
const rounds = Number(process.argv[3] ?? 5)
const topics = Array.from(
  { length: 1024 },
  (_, i) => `site/${i % 7}/building/${i % 13}/device/${i}/temperature`,
)
const packet = {}
let sink = 0

function time(fn: (topic: string) => boolean): number {
  const start = process.hrtime.bigint()
  for (let i = 0; i < iterations; i++) if (fn(topics[i & 1023]!)) sink++
  return Number(process.hrtime.bigint() - start) / iterations
}

const cases: Record<string, (topic: string) => boolean> = {
  'isValidTopicName (baseline)': (t) => isValidTopicName(t),
  topicProblem: (t) => topicProblem(t, defaultBrokerLimits) === undefined,
  mayPublishTo: (t) => mayPublishTo(t, packet, []),
}
const results = new Map<string, number[]>(Object.keys(cases).map((k) => [k, []]))
for (let r = 0; r < rounds; r++)
  for (const [name, fn] of Object.entries(cases)) results.get(name)!.push(time(fn))
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
const base = median(results.get('isValidTopicName (baseline)')!)
for (const [name, xs] of results) {
  const ns = median(xs)
  console.log(`${name.padEnd(28)} ${ns.toFixed(1).padStart(7)} ns/call  ${(ns / base).toFixed(2)}x baseline`)
}
if (sink === 0) console.log('')
