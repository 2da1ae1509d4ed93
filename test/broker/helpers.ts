/**
 * Helpers for the broker's end-to-end tests: a real pooled server with the
 * broker, real mqtt.js clients, and a way to place clients on given workers
 * (the worker-id fixture tells each client its worker; piscina's least-busy
 * balancing spreads consecutive connections, and ballast connections held
 * open tip it toward the other worker).
 */
import type { TestContext } from 'node:test'
import mqtt, { type IClientOptions, type IPublishPacket, type MqttClient } from 'mqtt'
import { startTestServer, type TestServer, type TestServerOptions } from '../helpers/server.ts'
import { workerTopic } from './fixtures/worker-id.ts'

export interface BrokerServerOptions {
  workers?: number
  broker?: Record<string, unknown>
  /** Extra handler modules placed before the broker (paths relative to test/). */
  handlers?: (string | { module: string; options?: Record<string, unknown> })[]
  /** Tell each client its worker after CONNACK (the worker-id fixture); default true. */
  reportWorker?: boolean
  /** Extra server config (limits, …). */
  config?: TestServerOptions['config']
  listeners?: TestServerOptions['listeners']
}

export function startBroker(t: TestContext, options: BrokerServerOptions = {}): Promise<TestServer> {
  return startTestServer(t, {
    workers: options.workers ?? 2,
    broker: options.broker ?? true,
    handlers: [
      ...(options.reportWorker === false ? [] : ['./broker/fixtures/worker-id.ts']),
      ...(options.handlers ?? []),
    ],
    ...(options.config === undefined ? {} : { config: options.config }),
    ...(options.listeners === undefined ? {} : { listeners: options.listeners }),
  })
}

/** Messages one client received, with waiting helpers. */
export class Inbox {
  readonly packets: IPublishPacket[] = []
  #waiters: (() => void)[] = []

  push(packet: IPublishPacket): void {
    this.packets.push(packet)
    for (const w of this.#waiters.splice(0)) w()
  }

  /** Resolves once `count` messages (matching `filter`) arrived; rejects after `timeoutMs`. */
  async waitFor(
    count: number,
    timeoutMs = 5000,
    filter: (p: IPublishPacket) => boolean = () => true,
  ): Promise<IPublishPacket[]> {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const got = this.packets.filter(filter)
      if (got.length >= count) return got
      const left = deadline - Date.now()
      if (left <= 0)
        throw new Error(`expected ${count} messages, got ${got.length}: ${got.map((p) => p.topic).join(',')}`)
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left)
        this.#waiters.push(() => {
          clearTimeout(timer)
          resolve()
        })
      })
    }
  }

  payloads(): string[] {
    return this.packets.map((p) => String(p.payload))
  }

  /** Takes the messages matching `filter` out of the inbox (a sentinel, once it served). */
  remove(filter: (p: IPublishPacket) => boolean): void {
    for (let i = this.packets.length - 1; i >= 0; i--) if (filter(this.packets[i]!)) this.packets.splice(i, 1)
  }
}

let sentinels = 0

/**
 * The wait before a negative assertion ("nothing else arrived"), instead of a sleep: `from`
 * publishes a marker (QoS 1) on `topic`, which `to` must receive; once it did, the marker is
 * taken out of `to`'s inbox. The server processes a connection's packets in order and a
 * publisher's messages reach a subscriber in order [3.1.1 MQTT-4.6.0-5] [5.0 MQTT-4.6.0-5], so what did not arrive
 * before the marker was not sent; and if the marker never comes, the test fails instead of
 * passing on an idle subscriber.
 */
export async function sentinel(from: TestClient, to: TestClient, topic: string): Promise<void> {
  const payload = `sentinel-${process.pid}-${++sentinels}`
  const isMarker = (p: IPublishPacket) => String(p.payload) === payload
  await from.client.publishAsync(topic, payload, { qos: 1 })
  await to.inbox.waitFor(1, 5000, isMarker)
  to.inbox.remove(isMarker)
}

export interface TestClient {
  client: MqttClient
  worker: number
  inbox: Inbox
  sessionPresent: boolean
  connack: mqtt.IConnackPacket
}

/** Connects one mqtt.js client and learns its worker; closed (forcibly) when the test ends. */
export function connectClient(
  t: TestContext,
  server: TestServer,
  options: IClientOptions = {},
  transport: 'tcp' | 'ws' = 'tcp',
): Promise<TestClient> {
  const client = mqtt.connect(server.url(transport), { reconnectPeriod: 0, connectTimeout: 5000, ...options })
  t.after(() => new Promise<void>((resolve) => client.end(true, {}, () => resolve())))
  const inbox = new Inbox()
  return new Promise((resolve, reject) => {
    let connack: mqtt.IConnackPacket | undefined
    const timer = setTimeout(() => reject(new Error('no worker id within 5 s')), 5000)
    client.on('connect', (packet) => {
      connack = packet
    })
    client.on('error', (err) => {
      clearTimeout(timer)
      reject(err)
    })
    client.on('message', (topic, payload, packet) => {
      if (topic === workerTopic && connack !== undefined) {
        clearTimeout(timer)
        resolve({
          client,
          worker: Number(String(payload)),
          inbox,
          sessionPresent: connack.sessionPresent,
          connack,
        })
        return
      }
      inbox.push(packet)
    })
  })
}

let probes = 0

/**
 * Arranges for the next connection to land on a worker satisfying `wanted`:
 * probe connections (other client ids) held open as ballast tip the main
 * thread's least-loaded balancing; a probe that lands right is closed again,
 * so the next connection takes its place. A worker's count falls only when
 * the connection's end (after its `onClose` hooks) reached the main thread,
 * so a connection the test closed just before may still weigh on its worker
 * and send a probe elsewhere; the placement therefore counts only when two
 * probes in a row land right. Returns a function releasing the ballast.
 */
export async function placeNext(
  t: TestContext,
  server: TestServer,
  wanted: (worker: number) => boolean,
): Promise<() => void> {
  const ballast: TestClient[] = []
  const release = () => {
    for (const b of ballast) b.client.end(true)
  }
  let landed = 0
  for (let i = 0; i < 12; i++) {
    const probe = await connectClient(t, server, {
      protocolVersion: 5,
      clientId: `probe-${process.pid}-${++probes}`,
    })
    if (wanted(probe.worker)) {
      await probe.client.endAsync()
      // let the connection's task end so the balancer counts it gone
      await delay(150)
      if (++landed === 2) return release
      continue
    }
    landed = 0
    ballast.push(probe)
  }
  release()
  throw new Error('could not place a connection on the wanted worker')
}

/** Connects a client on a worker satisfying `wanted` (see {@link placeNext}). */
export async function connectOn(
  t: TestContext,
  server: TestServer,
  wanted: (worker: number) => boolean,
  options: IClientOptions = {},
): Promise<TestClient> {
  const release = await placeNext(t, server, wanted)
  try {
    return await connectClient(t, server, options)
  } finally {
    release()
  }
}

export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}
