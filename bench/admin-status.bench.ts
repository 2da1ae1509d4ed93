/**
 * What the status page costs the server, at several numbers of idle clients:
 * - totals:  the once-a-second sample behind GET /rates (each worker answers
 *            `metrics:totals`: a few sums and one pass over its connections'
 *            byte counts), against
 * - scrape:  the full registry of every worker (`metrics`), what a Prometheus
 *            scrape and GET /status ask for (the baseline);
 * - /status, /connections/recent?limit=10, /connections?search=&limit=50 over HTTP.
 * Same process, requests interleaved; medians in ms. Clients are raw MQTT 3.1.1
 * CONNECTs over loopback TCP (two file descriptors each in this process).
 * Run: node_modules/.bin/node bench/admin-status.bench.ts
 *      (BENCH_CLIENTS=0,1000,5000 BENCH_ROUNDS=40 by default)
 */
import { connect, type Socket } from 'node:net'
import { performance } from 'node:perf_hooks'
import mqttPacket from 'mqtt-packet'
import { startServer } from '../src/main/server.ts'

const LEVELS = (process.env.BENCH_CLIENTS ?? '0,1000,5000').split(',').map(Number)
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 40)

const server = await startServer({
  workers: 2,
  listeners: [{ name: 'tcp', type: 'tcp', host: '127.0.0.1', port: 0 }],
  admin: { enabled: true, host: '127.0.0.1', port: 0 },
  limits: { connectionRatePerAddress: 0 },
  log: { level: 'silent' },
})
const port = server.listeners[0]!.port
const base = `http://127.0.0.1:${server.admin!.port}`
const sockets: Socket[] = []

async function openClients(total: number): Promise<void> {
  while (sockets.length < total) {
    const batch = Math.min(200, total - sockets.length)
    await Promise.all(
      Array.from({ length: batch }, () => {
        const id = `bench-${sockets.length}-${Math.random().toString(36).slice(2, 8)}`
        return new Promise<void>((resolve, reject) => {
          const socket = connect(port, '127.0.0.1', () => {
            socket.write(
              mqttPacket.generate({ cmd: 'connect', clientId: id, protocolVersion: 4, keepalive: 0 }),
            )
          })
          socket.once('data', () => resolve()) // CONNACK
          socket.once('error', reject)
          sockets.push(socket)
        })
      }),
    )
  }
}

const median = (xs: number[]) => xs.toSorted((a, b) => a - b)[Math.floor(xs.length / 2)]!

async function time(fn: () => Promise<unknown>): Promise<number> {
  const start = performance.now()
  await fn()
  return performance.now() - start
}

const control = (type: 'metrics' | 'metrics:totals') => () =>
  server.control.request(type, null, { expectedWorkers: server.workerThreadIds().length, timeoutMs: 5000 })
const http = (path: string) => async () => {
  const res = await fetch(`${base}${path}`)
  if (!res.ok) throw new Error(`${path}: ${res.status}`)
  await res.arrayBuffer()
}

const cases = {
  totals: control('metrics:totals'),
  scrape: control('metrics'),
  '/status': http('/status'),
  '/connections/recent': http('/connections/recent?limit=10'),
  '/connections?search': http('/connections?search=bench-4&limit=50'),
}

console.log(`admin status costs, 2 workers, medians of ${ROUNDS} interleaved rounds (ms)`)
console.log(['clients', ...Object.keys(cases), 'totals/scrape'].join('\t'))
for (const level of LEVELS) {
  await openClients(level)
  const results = new Map<string, number[]>(Object.keys(cases).map((k) => [k, []]))
  for (let round = 0; round < ROUNDS; round++) {
    for (const [name, fn] of Object.entries(cases)) results.get(name)!.push(await time(fn))
  }
  const m = Object.fromEntries([...results].map(([k, v]) => [k, median(v)]))
  console.log(
    [
      String(sockets.length),
      ...Object.keys(cases).map((k) => m[k]!.toFixed(3)),
      (m.totals! / m.scrape!).toFixed(2),
    ].join('\t'),
  )
}
for (const s of sockets) s.destroy()
await server.close()
