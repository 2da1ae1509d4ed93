/**
 * Memory per idle MQTT connection: starts the real CLI (its own process),
 * opens `count` TCP connections (CONNECT v3.1.1, keepalive 0) from several
 * 127.0.0.x addresses, and compares the server's RSS before and after.
 * Raise the file limit first (`ulimit -n 20000`).
 *
 *   node bench/server-idle-memory.ts [count=10000] [workers=2]
 */
import { spawn } from 'node:child_process'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { setTimeout as sleep } from 'node:timers/promises'
import { rssBytes } from '../load-tests/generator/proc-stats.ts'

const count = Number(process.argv[2] ?? 10_000)
const workers = Number(process.argv[3] ?? 2)
const root = new URL('../', import.meta.url).pathname
const config = join(mkdtempSync(join(tmpdir(), 'mqttd-bench-')), 'mqttd.yaml')
writeFileSync(
  config,
  `workers: ${workers}\nlisteners: [{ type: tcp, host: 127.0.0.1, port: 0 }]\nbroker: false\nadmin: { enabled: false }\nlog: { level: info }\nshutdown: { drainTimeoutMs: 5000 }\n`,
)

// the load generator's /proc reader; a server that is gone reads as NaN
const rssMb = (pid: number) => (rssBytes(pid) ?? Number.NaN) / (1024 * 1024)

const server = spawn(process.execPath, [join(root, 'bin/mqttd.js'), '--config', config], {
  stdio: ['ignore', 'pipe', 'inherit'],
})
const port = await new Promise<number>((resolve) => {
  createInterface({ input: server.stdout! }).on('line', (line) => {
    const entry = JSON.parse(line) as { msg?: string; listeners?: Array<{ port: number }> }
    if (entry.msg?.startsWith('mqttd listening')) resolve(entry.listeners![0]!.port)
  })
})
await sleep(1000)
const before = rssMb(server.pid!)
const started = performance.now()
const client = spawn(
  process.execPath,
  [join(root, 'bench/server-client.ts'), 'hold', String(port), String(count), '4'],
  {
    stdio: ['pipe', 'pipe', 'inherit'],
  },
)
const [opened, failures] = await new Promise<number[]>((resolve) => {
  createInterface({ input: client.stdout! }).on('line', (line) => {
    if (line.startsWith('ready')) resolve(line.split(' ').slice(1).map(Number))
  })
})
const openSeconds = (performance.now() - started) / 1000
await sleep(2000)
const after = rssMb(server.pid!)
client.stdin!.end()
await new Promise((r) => client.once('exit', r))
server.kill('SIGTERM')
await new Promise((r) => server.once('exit', r))
process.stdout.write(
  `${JSON.stringify({
    workers,
    connections: opened,
    failures,
    openSeconds: Number(openSeconds.toFixed(2)),
    rssBeforeMb: Math.round(before),
    rssAfterMb: Math.round(after),
    bytesPerConnection: Math.round(((after - before) * 1024 * 1024) / opened!),
  })}\n`,
)
