/**
 * Memory per retained message: starts the real CLI (its own process) with the
 * broker and `workers` workers, publishes `count` retained messages (100-byte
 * payload, topics `bench/retained/<n>`), and compares the server's RSS before
 * and after, once every worker stored them (the last publish is QoS 1, which
 * the broker acknowledges once every worker holds it) and after a settling
 * pause. Every worker keeps a full replica, so the cost per message grows with
 * the number of workers; `perCopy` divides by it. `accounted` is what the
 * retained store counts against `broker.retained.maxBytes` per copy (the
 * `mqttd_broker_retained_bytes` gauge, read from `/metrics`).
 *
 *   node bench/retained-memory.ts [count=20000] [workers=2] [payloadBytes=100]
 */
import { spawn } from 'node:child_process'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { setTimeout as sleep } from 'node:timers/promises'
import mqtt from 'mqtt'
import { rssBytes } from '../load-tests/generator/proc-stats.ts'

const count = Number(process.argv[2] ?? 20_000)
const workers = Number(process.argv[3] ?? 2)
const payloadBytes = Number(process.argv[4] ?? 100)
const root = new URL('../', import.meta.url).pathname
const config = join(mkdtempSync(join(tmpdir(), 'mqttd-bench-')), 'mqttd.yaml')
writeFileSync(
  config,
  `workers: ${workers}\nlisteners: [{ type: tcp, host: 127.0.0.1, port: 0 }]\nbroker: { sysInterval: 0, retained: { maxMessages: 10000000, maxBytes: 10000000000 } }\nadmin: { host: 127.0.0.1, port: 0 }\nlog: { level: info }\nshutdown: { drainTimeoutMs: 5000 }\n`,
)

// the load generator's /proc reader; a server that is gone reads as NaN
const rssMb = (pid: number) => (rssBytes(pid) ?? Number.NaN) / (1024 * 1024)

const server = spawn(process.execPath, [join(root, 'bin/mqttd.js'), '--config', config], {
  stdio: ['ignore', 'pipe', 'inherit'],
})
const { port, adminPort } = await new Promise<{ port: number; adminPort: number }>((resolve) => {
  createInterface({ input: server.stdout! }).on('line', (line) => {
    const entry = JSON.parse(line) as {
      msg?: string
      listeners?: Array<{ port: number }>
      admin?: { port: number }
    }
    if (entry.msg?.startsWith('mqttd listening'))
      resolve({ port: entry.listeners![0]!.port, adminPort: entry.admin!.port })
  })
})
await sleep(1000)
const before = rssMb(server.pid!)
const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, { reconnectPeriod: 0 })
const payload = Buffer.alloc(payloadBytes, 0x61)
for (let i = 0; i < count; i++) {
  client.publish(`bench/retained/${i}`, payload, { qos: 0, retain: true })
  if (i % 1000 === 999) await client.publishAsync('bench/sync', '', { qos: 1 })
}
await client.publishAsync(`bench/retained/${count}`, payload, { qos: 1, retain: true })
await sleep(3000)
const after = rssMb(server.pid!)
const metrics = await (await fetch(`http://127.0.0.1:${adminPort}/metrics`)).text()
const accounted = Number(/^mqttd_broker_retained_bytes (\S+)$/m.exec(metrics)?.[1] ?? Number.NaN)
const stored = Number(/^mqttd_broker_retained_messages (\S+)$/m.exec(metrics)?.[1] ?? Number.NaN)
await client.endAsync()
server.kill('SIGTERM')
await new Promise((r) => server.once('exit', r))
const perMessage = ((after - before) * 1024 * 1024) / (count + 1)
process.stdout.write(
  `${JSON.stringify({
    workers,
    count: count + 1,
    stored,
    payloadBytes,
    rssBeforeMb: Math.round(before),
    rssAfterMb: Math.round(after),
    bytesPerMessage: Math.round(perMessage),
    perCopy: Math.round(perMessage / workers),
    accountedPerCopy: Math.round(accounted / stored),
  })}\n`,
)
