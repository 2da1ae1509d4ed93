/**
 * What `proxyProtocol: true` costs per connection. Two pooled servers in this
 * process, each with a plain and a proxyProtocol TCP listener; one without a
 * per-address rate, one with `limits.connectionRatePerAddress` set (high
 * enough to refuse nothing), where a proxied connection costs a round trip
 * to the main thread for its address. A load client in a child process
 * churns connections (CONNECT → CONNACK → close; the header in the same
 * write as CONNECT), the variants interleaved round by round; the median
 * round is reported with its ratio to the plain listener of the same server,
 * and the server process's CPU time per connection (main and worker threads;
 * steadier than a rate on a loaded machine).
 * Plus the parser alone (headers per second). Bounded: rounds × count
 * connections to 127.0.0.1.
 *
 *   node bench/proxy-protocol.bench.ts [count=5000] [concurrency=50] [rounds=3]
 */
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { startServer } from '../src/main/server.ts'
import { parseProxyHeader } from '../src/transport/proxy-protocol.ts'

const count = Number(process.argv[2] ?? 5000)
const concurrency = Number(process.argv[3] ?? 50)
const rounds = Number(process.argv[4] ?? 3)

function parserRate(bytes: Buffer): number {
  const n = 1_000_000
  for (let i = 0; i < 10_000; i++) parseProxyHeader(bytes) // warm-up
  const started = performance.now()
  for (let i = 0; i < n; i++) parseProxyHeader(bytes)
  return Math.round(n / ((performance.now() - started) / 1000))
}
const v1 = Buffer.from('PROXY TCP4 203.0.113.7 192.0.2.1 51234 1883\r\n', 'latin1')
const v2 = Buffer.from([
  0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a, 0x21, 0x11, 0x00, 0x0c, 203, 0, 113,
  7, 192, 0, 2, 1, 0xc8, 0x22, 0x07, 0x5b,
])
process.stdout.write(
  `${JSON.stringify({ parser: { v1PerSecond: parserRate(v1), v2PerSecond: parserRate(v2) } })}\n`,
)

const start = (ratePerAddress: number) =>
  startServer({
    workers: 2,
    listeners: [
      { name: 'plain', type: 'tcp', host: '127.0.0.1', port: 0 },
      { name: 'proxied', type: 'tcp', host: '127.0.0.1', port: 0, proxyProtocol: true },
    ],
    broker: false,
    admin: { enabled: false },
    persistence: false,
    log: { level: 'warn' },
    limits: { connectionRatePerAddress: ratePerAddress, maxConnections: 100_000 },
  })
const servers = { noRate: await start(0), rate: await start(1_000_000) }
const portOf = (server: keyof typeof servers, listener: string) =>
  servers[server].listeners.find((l) => l.name === listener)!.port

const variants = [
  { name: 'plain', server: 'noRate', listener: 'plain', header: 'none' },
  { name: 'proxy v1', server: 'noRate', listener: 'proxied', header: 'v1' },
  { name: 'proxy v2', server: 'noRate', listener: 'proxied', header: 'v2' },
  { name: 'plain + rate', server: 'rate', listener: 'plain', header: 'none' },
  { name: 'proxy v2 + rate', server: 'rate', listener: 'proxied', header: 'v2' },
] as const
const client = new URL('./proxy-protocol-client.ts', import.meta.url).pathname
const churn = async (port: number, n: number, header: string) => {
  const { stdout } = await promisify(execFile)(process.execPath, [
    client,
    String(port),
    String(n),
    String(concurrency),
    header,
  ])
  return JSON.parse(stdout) as { perSecond: number; failures: number }
}

for (const v of variants) await churn(portOf(v.server, v.listener), 500, v.header) // warm-up
const results = new Map<string, number[]>(variants.map((v) => [v.name, []]))
const cpu = new Map<string, number[]>(variants.map((v) => [v.name, []]))
let failures = 0
for (let round = 0; round < rounds; round++) {
  for (const v of variants) {
    const before = process.cpuUsage()
    const r = await churn(portOf(v.server, v.listener), count, v.header)
    const used = process.cpuUsage(before)
    results.get(v.name)!.push(r.perSecond)
    cpu.get(v.name)!.push((used.user + used.system) / count)
    failures += r.failures
  }
}
await Promise.all(Object.values(servers).map((s) => s.close()))

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
const medians = Object.fromEntries([...results].map(([name, xs]) => [name, median(xs)]))
const cpuMedians = Object.fromEntries([...cpu].map(([name, xs]) => [name, median(xs)]))
for (const v of variants) {
  const plain = v.server === 'noRate' ? 'plain' : 'plain + rate'
  process.stdout.write(
    `${JSON.stringify({
      variant: v.name,
      connectionsPerSecond: medians[v.name],
      ratioToPlain: Number((medians[v.name]! / medians[plain]!).toFixed(2)),
      serverCpuMicrosPerConnection: Math.round(cpuMedians[v.name]!),
      cpuRatioToPlain: Number((cpuMedians[v.name]! / cpuMedians[plain]!).toFixed(2)),
      rounds: results.get(v.name),
    })}\n`,
  )
}
process.stdout.write(`${JSON.stringify({ count, concurrency, rounds, failures })}\n`)
