/**
 * The run both heap tools share (heap-diff.ts, heap-owners.ts): the server in
 * this process (1 worker, broker on, TCP only, admin off), one heap snapshot of
 * the main isolate and of the worker isolate with no client, and one with
 * `count` idle clients held by bench/server-client.ts in a child process. Each
 * tool reads the snapshots its own way (`read`).
 */
import { spawn } from 'node:child_process'
import { createInterface } from 'node:readline'
import type { Readable } from 'node:stream'
import { setTimeout as sleep } from 'node:timers/promises'
import { getHeapSnapshot } from 'node:v8'
import { startServer } from '../../src/main/server.ts'
import { inProcessConfig, startedWorkers } from './in-process-server.ts'

/** What `read` made of each thread's snapshot, without clients and with them. */
export interface IdleHeaps<T> {
  before: { main: T; worker: T }
  after: { main: T; worker: T }
}

/** Runs the server, snapshots, holds `count` idle clients (`clientArgs` after the count), snapshots again. */
export async function idleHeaps<T>(
  count: number,
  read: (snapshot: Readable) => Promise<T>,
  clientArgs: string[] = ['4'],
): Promise<IdleHeaps<T>> {
  const snapshots = async () => ({
    main: await read(getHeapSnapshot()),
    worker: await read((await startedWorkers[0]!.getHeapSnapshot()) as Readable),
  })
  const server = await startServer(inProcessConfig)
  await sleep(500)
  const before = await snapshots()
  const client = spawn(
    process.execPath,
    [
      new URL('../../bench/server-client.ts', import.meta.url).pathname,
      'hold',
      String(server.listeners[0]!.port),
      String(count),
      ...clientArgs,
    ],
    { stdio: ['pipe', 'pipe', 'inherit'] },
  )
  await new Promise<void>((resolve) => {
    createInterface({ input: client.stdout! }).on('line', (line) => {
      if (line.startsWith('ready')) resolve()
    })
  })
  await sleep(1000)
  const after = await snapshots()
  client.stdin!.end()
  await new Promise((r) => client.once('exit', r))
  await server.close()
  return { before, after }
}
