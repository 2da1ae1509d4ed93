/**
 * How should a message cross from one worker thread to another? Measures
 * three transports with the broker's real message shape (a `pub` cluster
 * message, 64-byte payload), one sender thread, one receiver that counts:
 *
 * - broadcast: one BroadcastChannel shared by all workers (the broker's
 *   design); with N workers every post is cloned to all N-1 peers, and the
 *   non-targets drop it.
 * - port: a MessagePort pair per worker pair (a mesh).
 * - main: worker → main thread → worker over the parentPort links, the
 *   "route everything through the main thread" option.
 *
 * Run: node bench/broker-transport.bench.ts [messages=200000]
 * Prints messages/s at the receiver and the CPU time (user+system ms) of
 * the whole process per message.
 */
import {
  BroadcastChannel,
  isMainThread,
  MessageChannel,
  type MessagePort,
  parentPort,
  threadId,
  Worker,
  workerData,
} from 'node:worker_threads'

interface Setup {
  mode: 'broadcast' | 'port' | 'main'
  role: 'sender' | 'receiver' | 'idle'
  count: number
  channel: string
  target: number
  port?: MessagePort
}

function message(i: number, target: number) {
  return {
    t: 'pub',
    from: threadId,
    fromSeq: 1,
    to: [target],
    seen: [1],
    shared: [null],
    message: {
      topic: `bench/${i % 100}`,
      payload: new Uint8Array(64),
      qos: 1,
      retain: false,
      properties: undefined,
      expiresAt: undefined,
      origin: 'bench',
    },
  }
}

if (!isMainThread) {
  const s = workerData as Setup
  const channel = s.mode === 'broadcast' ? new BroadcastChannel(s.channel) : undefined
  const out: { postMessage(m: unknown): void } =
    channel ?? (s.mode === 'port' && s.port !== undefined ? s.port : parentPort!)
  let got = 0
  const onMessage = (data: { t?: string; to?: number[] }) => {
    // every receiver pays for the clone; only the target counts it
    if (data.t !== 'pub' || s.role !== 'receiver' || !data.to!.includes(threadId)) return
    if (++got === s.count) parentPort!.postMessage({ done: true })
  }
  if (channel !== undefined) channel.onmessage = (e) => onMessage((e as { data: { to?: number[] } }).data)
  else if (s.mode === 'port') s.port?.on('message', onMessage)
  else parentPort!.on('message', onMessage)
  parentPort!.on('message', async (m: { start?: boolean; stop?: boolean; target?: number }) => {
    if (m.target !== undefined) s.target = m.target
    if (m.stop) {
      channel?.close()
      s.port?.close()
      process.exit(0)
    }
    if (!m.start || s.role !== 'sender') return
    // send in batches, yielding so receivers and the main thread keep up
    for (let i = 0; i < s.count; i++) {
      out.postMessage(message(i, s.target))
      if (i % 500 === 499) await new Promise((r) => setImmediate(r))
    }
  })
  parentPort!.postMessage({ ready: true })
} else {
  const count = Number(process.argv[2] ?? 200_000)
  const run = async (mode: Setup['mode'], workers: number): Promise<void> => {
    const channel = `bench-${mode}-${workers}-${Date.now()}`
    const { port1, port2 } = new MessageChannel()
    const list: Worker[] = []
    for (let i = 0; i < workers; i++) {
      const role = i === 0 ? 'sender' : i === 1 ? 'receiver' : 'idle'
      const port = mode === 'port' && i < 2 ? (i === 0 ? port1 : port2) : undefined
      list.push(
        new Worker(new URL(import.meta.url), {
          workerData: { mode, role, count, channel, target: 0, port },
          transferList: port === undefined ? [] : [port],
        }),
      )
    }
    const receiverId = list[1]!.threadId
    for (const w of list) w.postMessage({ target: receiverId })
    await Promise.all(list.map((w) => new Promise((r) => w.once('message', r))))
    const done = new Promise<void>((resolve) =>
      list[1]!.on('message', (m: { done?: boolean }) => m.done && resolve()),
    )
    if (mode === 'main') list[0]!.on('message', (m: unknown) => list[1]!.postMessage(m))
    const cpu0 = process.cpuUsage()
    const t0 = performance.now()
    list[0]!.postMessage({ start: true })
    await done
    const ms = performance.now() - t0
    const cpu = process.cpuUsage(cpu0)
    const cpuMs = (cpu.user + cpu.system) / 1000
    console.log(
      `${mode.padEnd(9)} workers=${workers}  ${Math.round((count / ms) * 1000)
        .toLocaleString('en')
        .padStart(9)} msg/s  ${((cpuMs * 1000) / count).toFixed(2)} µs CPU/msg`,
    )
    for (const w of list) w.postMessage({ stop: true })
    await Promise.all(list.map((w) => new Promise((r) => w.once('exit', r))))
  }
  for (const workers of [2, 4]) {
    for (const mode of ['broadcast', 'port', 'main'] as const) await run(mode, workers)
  }
}
