/**
 * The server the heap tools start in their own process (heap-diff.ts and
 * heap-owners.ts through idle-heap-run.ts, alloc-profile.ts): 1 worker, the
 * broker, TCP only on loopback, no admin API, no store. And the worker threads
 * this process starts, whose heaps the tools read.
 */
import diagnostics from 'node:diagnostics_channel'
import { join, resolve } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import type { Worker } from 'node:worker_threads'
import type { MqttdConfigInput } from '../../src/config/schema.ts'
import { generate } from '../compare/measure.ts'

/** The config every heap tool measures. */
export const inProcessConfig: MqttdConfigInput = {
  workers: 1,
  listeners: [{ type: 'tcp', host: '127.0.0.1', port: 0 }],
  admin: { enabled: false },
  persistence: false,
  log: { level: 'warn' },
}

/** Worker threads started in this process, in order (Node's `worker_threads` diagnostics channel). */
export const startedWorkers: Worker[] = []
diagnostics.subscribe('worker_threads', (message) => {
  startedWorkers.push((message as { worker: Worker }).worker)
})

/**
 * `n` connections from the load generator (`conn`: CONNECT, CONNACK, close at the run's end, 100 in
 * flight) to the in-process server on `port`, in runs of at most 5,000: the generator holds a run's
 * connections to its end. A child process awaited, never a synchronous one: this thread is also the
 * server's main thread, which accepts.
 */
export async function connectionRuns(port: number, n: number): Promise<void> {
  const ctx = { port, pid: process.pid, cpus: null, quick: false, log: () => {} }
  for (let left = n; left > 0; left -= 5000) {
    const result = await generate(ctx, [
      'conn',
      '--transport',
      'tcp',
      '--connections',
      String(Math.min(left, 5000)),
      '--concurrency',
      '100',
      '--timeout',
      '30000',
      '--duration',
      '120',
    ])
    if ((result.failed as number) > 0) {
      throw new Error(`${result.failed} connections failed: ${JSON.stringify(result.errors)}`)
    }
  }
}

/**
 * The profiling tools' run (alloc-profile.ts, cpu-profile.ts): `root`'s server in this process,
 * `warmup` connections, then `start` on its worker, `count` connections and a second for their
 * closes (the generator closes at each run's end: the close path is part of the cost), and the
 * profile `stop` returned.
 */
export async function profileWorker(
  root: string,
  warmup: number,
  count: number,
  start: (worker: Worker) => Promise<{ stop(): Promise<string> }>,
): Promise<string> {
  const { startServer } = (await import(
    join(resolve(root), 'src', 'main', 'server.ts')
  )) as typeof import('../../src/main/server.ts')
  const server = await startServer(inProcessConfig)
  try {
    const run = (n: number) => connectionRuns(server.listeners[0]!.port, n)
    await run(warmup)
    await sleep(1000)
    const handle = await start(startedWorkers[0]!)
    await run(count)
    await sleep(1000)
    return await handle.stop()
  } finally {
    await server.close()
  }
}
