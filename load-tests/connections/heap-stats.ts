/**
 * V8 heap of each isolate (the main thread and every worker) of a server started
 * in this process, idle and after connect/close churn: what RSS is made of and
 * which thread's heap grows.
 *
 *   node load-tests/connections/heap-stats.ts [workers=2] [cycles=20000] [trimIdleHeap=true]
 *
 * Per isolate: total heap / used heap, MB. Config: TCP and WS listeners, admin API, broker and
 * SQLite store (in a temp directory) on, as the defaults are.
 */
import { execFile } from 'node:child_process'
import diagnostics from 'node:diagnostics_channel'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { promisify } from 'node:util'
import { getHeapStatistics } from 'node:v8'
import type { Worker } from 'node:worker_threads'
import { startServer } from '../../src/main/server.ts'
import { rssBytes } from '../generator/proc-stats.ts'

const workerCount = Number(process.argv[2] ?? 2)
const cycles = Number(process.argv[3] ?? 20_000)
const trimIdleHeap = process.argv[4] !== 'false'
const workers: Worker[] = []
diagnostics.subscribe('worker_threads', (m) => workers.push((m as { worker: Worker }).worker))
const dir = mkdtempSync(join(tmpdir(), 'cc-heap-'))
const server = await startServer({
  workers: workerCount,
  listeners: [
    { type: 'tcp', host: '127.0.0.1', port: 0 },
    { type: 'ws', host: '127.0.0.1', port: 0, path: '/mqtt' },
  ],
  admin: { host: '127.0.0.1', port: 0 },
  persistence: { dir },
  log: { level: 'warn' },
  memory: { trimIdleHeap },
})
const mb = (x: number) => Math.round(x / 1048576)

async function print(label: string): Promise<void> {
  const heaps = [getHeapStatistics(), ...(await Promise.all(workers.map((w) => w.getHeapStatistics())))]
  const parts = heaps.map(
    (h, i) => `${i === 0 ? 'main' : `worker ${i}`} ${mb(h.total_heap_size)}/${mb(h.used_heap_size)}`,
  )
  const total = heaps.reduce((s, h) => s + h.total_heap_size, 0)
  process.stdout.write(
    `${label.padEnd(22)} RSS ${mb(rssBytes(process.pid) ?? 0)} MB; V8 heaps ${mb(total)} MB: ${parts.join(', ')}\n`,
  )
}

await sleep(2000)
await print('idle')
if (cycles > 0) {
  const client = new URL('../../bench/server-client.ts', import.meta.url).pathname
  const port = String(server.listeners[0]!.port)
  await promisify(execFile)(process.execPath, [client, 'churn', port, String(cycles), '20'])
  await print(`after ${cycles} cycles`)
  await sleep(20_000)
  await print('after 20 s idle')
}
await server.close()
rmSync(dir, { recursive: true, force: true })
