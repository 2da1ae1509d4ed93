/**
 * The cross-worker layer with real worker threads and no server: Broker
 * instances on one BroadcastChannel, driven through fake connections.
 */
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { test } from 'node:test'
import { Worker } from 'node:worker_threads'

interface Delivered {
  clientId: string
  topic: string
  payload: string
}

class Node {
  readonly worker: Worker
  readonly delivered: Delivered[] = []
  readonly ready: Promise<number>
  #next = 0
  readonly #pending = new Map<number, (v: unknown) => void>()

  constructor(channel: string) {
    this.worker = new Worker(new URL('./fixtures/cluster-worker.ts', import.meta.url), {
      workerData: { channel },
    })
    this.ready = new Promise((resolve) => {
      this.worker.on(
        'message',
        (m: { id?: number; result?: unknown; event?: string } & Delivered & { workerId: number }) => {
          if (m.event === 'ready') resolve(m.workerId)
          else if (m.event === 'publish')
            this.delivered.push({ clientId: m.clientId, topic: m.topic, payload: m.payload })
          else if (m.id !== undefined) this.#pending.get(m.id)?.(m.result)
        },
      )
    })
  }

  run<T>(command: Record<string, unknown>): Promise<T> {
    const id = ++this.#next
    return new Promise((resolve) => {
      this.#pending.set(id, resolve as (v: unknown) => void)
      this.worker.postMessage({ id, command })
    })
  }

  async waitDelivered(count: number, timeoutMs = 3000): Promise<Delivered[]> {
    const deadline = Date.now() + timeoutMs
    while (this.delivered.length < count && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10))
    return this.delivered
  }

  async stop(): Promise<void> {
    await this.run({ op: 'close' })
    await this.worker.terminate()
  }
}

test('a worker that starts later learns the routing table and the retained messages from its peers (hello/sync)', async (t) => {
  const channel = `test-${randomUUID()}`
  const a = new Node(channel)
  t.after(() => a.stop())
  await a.ready
  await a.run({ op: 'connect', clientId: 'sub-a', clean: true })
  await a.run({ op: 'subscribe', clientId: 'sub-a', filter: 'late/#', qos: 1 })
  await a.run({
    op: 'publish',
    clientId: 'x',
    topic: 'late/kept',
    payload: 'retained-before-b',
    qos: 1,
    retain: true,
  })

  const b = new Node(channel)
  t.after(() => b.stop())
  await b.ready
  // b's sync arrives asynchronously: poll until b knows the retained message
  let retained: string[] = []
  for (let i = 0; i < 100 && retained.length === 0; i++) {
    retained = await b.run<string[]>({ op: 'retained', filter: 'late/#' })
    if (retained.length === 0) await new Promise((r) => setTimeout(r, 10))
  }
  assert.deepEqual(retained, ['retained-before-b'])
  await b.run({ op: 'connect', clientId: 'pub-b', clean: true })
  const targets = await b.run<number>({
    op: 'publish',
    clientId: 'pub-b',
    topic: 'late/live',
    payload: 'from-b',
    qos: 1,
    retain: false,
  })
  assert.equal(targets, 1, 'b routes to a')
  const got = await a.waitDelivered(2)
  assert.deepEqual(
    got.map((d) => d.payload),
    ['retained-before-b', 'from-b'],
  )
})

test('three workers: ports between every pair; a publish reaches only the workers with matching subscribers; a stopped worker is forgotten (bye)', async (t) => {
  const channel = `test-${randomUUID()}`
  const nodes = [new Node(channel), new Node(channel), new Node(channel)]
  await Promise.all(nodes.map((n) => n.ready))
  const [a, b, c] = nodes as [Node, Node, Node]
  t.after(() => Promise.all([a.stop(), b.stop()]))
  for (const [n, id] of [
    [a, 'a'],
    [b, 'b'],
    [c, 'c'],
  ] as const) {
    await n.run({ op: 'connect', clientId: id, clean: true })
  }
  await b.run({ op: 'subscribe', clientId: 'b', filter: 'only/b', qos: 0 })
  await c.run({ op: 'subscribe', clientId: 'c', filter: 'all/#', qos: 0 })
  await b.run({ op: 'subscribe', clientId: 'b', filter: 'all/+', qos: 0 })
  assert.equal(
    await a.run<number>({
      op: 'publish',
      clientId: 'a',
      topic: 'only/b',
      payload: '1',
      qos: 0,
      retain: false,
    }),
    1,
  )
  assert.equal(
    await a.run<number>({
      op: 'publish',
      clientId: 'a',
      topic: 'all/x',
      payload: '2',
      qos: 0,
      retain: false,
    }),
    2,
  )
  await b.waitDelivered(2)
  await c.waitDelivered(1)
  await new Promise((r) => setTimeout(r, 50))
  assert.deepEqual(
    b.delivered.map((d) => d.payload),
    ['1', '2'],
  )
  assert.deepEqual(
    c.delivered.map((d) => d.payload),
    ['2'],
  )
  await c.stop()
  await new Promise((r) => setTimeout(r, 50))
  assert.equal(
    await a.run<number>({
      op: 'publish',
      clientId: 'a',
      topic: 'all/y',
      payload: '3',
      qos: 0,
      retain: false,
    }),
    1,
  )
})

test('session directory: a client id connecting on another worker takes its persistent session over from the holder', async (t) => {
  const channel = `test-${randomUUID()}`
  const a = new Node(channel)
  const b = new Node(channel)
  t.after(() => Promise.all([a.stop(), b.stop()]))
  await Promise.all([a.ready, b.ready])
  assert.deepEqual(await a.run({ op: 'connect', clientId: 'p', clean: false }), {
    present: false,
    workerId: await a.ready,
  })
  await a.run({ op: 'subscribe', clientId: 'p', filter: 'dir/#', qos: 1 })
  await new Promise((r) => setTimeout(r, 50))
  const moved = await b.run<{ present: boolean }>({ op: 'connect', clientId: 'p', clean: false })
  assert.equal(moved.present, true)
  await b.run({ op: 'connect', clientId: 'q', clean: true })
  await b.run({ op: 'publish', clientId: 'q', topic: 'dir/1', payload: 'on-b', qos: 1, retain: false })
  const got = await b.waitDelivered(1)
  assert.deepEqual(got, [{ clientId: 'p', topic: 'dir/1', payload: 'on-b' }])
  assert.deepEqual(a.delivered, [])
})

test('a worker that dies without bye is forgotten by its peers once its port closes (routes and sessions)', async (t) => {
  const channel = `test-${randomUUID()}`
  const a = new Node(channel)
  const b = new Node(channel)
  t.after(() => a.stop())
  await Promise.all([a.ready, b.ready])
  for (let i = 0; i < 100 && (await a.run<number>({ op: 'mesh' })) < 1; i++)
    await new Promise((r) => setTimeout(r, 10))
  await a.run({ op: 'connect', clientId: 'pa', clean: true })
  await b.run({ op: 'connect', clientId: 'held-on-b', clean: false })
  await b.run({ op: 'subscribe', clientId: 'held-on-b', filter: 'gone/#', qos: 1 })
  assert.equal(
    await a.run<number>({
      op: 'publish',
      clientId: 'pa',
      topic: 'gone/1',
      payload: 'x',
      qos: 0,
      retain: false,
    }),
    1,
  )
  // no close op: the thread just ends, as a crash would
  await b.worker.terminate()
  let targets = 1
  for (let i = 0; i < 100 && targets > 0; i++) {
    await new Promise((r) => setTimeout(r, 10))
    targets = await a.run<number>({
      op: 'publish',
      clientId: 'pa',
      topic: 'gone/1',
      payload: 'x',
      qos: 0,
      retain: false,
    })
  }
  assert.equal(targets, 0)
  // the directory forgot b too: the client gets a fresh session on a at once, no hand-over wait
  const started = Date.now()
  const reconnect = await a.run<{ present: boolean }>({ op: 'connect', clientId: 'held-on-b', clean: false })
  assert.equal(reconnect.present, false)
  assert.ok(Date.now() - started < 1000)
})
