/**
 * The server the heap tools start in their own process (heap-diff.ts and
 * heap-owners.ts through idle-heap-run.ts, alloc-profile.ts): 1 worker, the
 * broker, TCP only on loopback, no admin API, no store. And the worker threads
 * this process starts, whose heaps the tools read.
 */
import diagnostics from 'node:diagnostics_channel'
import type { Worker } from 'node:worker_threads'
import type { MqttdConfigInput } from '../../src/config/schema.ts'

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
