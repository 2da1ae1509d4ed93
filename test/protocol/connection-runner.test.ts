// The protocol engine alone: a ConnectionRunner on one end of an in-memory duplex pair, a
// Connection playing the client on the other. No piscina, no socket, no worker thread.
import assert from 'node:assert/strict'
import { duplexPair } from 'node:stream'
import { test } from 'node:test'
import pino from 'pino'
import { Connection } from '../../src/connection/connection.ts'
import type { Packet } from '../../src/connection/types.ts'
import { HandlerChain } from '../../src/handlers/chain.ts'
import type { Handler } from '../../src/handlers/types.ts'
import { WorkerMetrics } from '../../src/metrics/worker-metrics.ts'
import { ConnectionRunner } from '../../src/protocol/connection-runner.ts'

const limits = {
  maxPacketSize: 65536,
  connectTimeoutMs: 5000,
  maxKeepaliveSeconds: 0,
  receiveMaximum: 10,
  topicAliasMaximum: 5,
  lingerMs: 2000,
  maxLingering: 1000,
}

function pair(handler: Handler, onEnded?: (runner: ConnectionRunner) => void) {
  const [serverSide, clientSide] = duplexPair()
  const chain = new HandlerChain([{ name: 'test', handler }], { timeoutMs: 5000 })
  const runner = new ConnectionRunner({
    seq: 1,
    stream: serverSide,
    transport: 'tcp',
    listener: 'memory',
    remoteAddress: undefined,
    remotePort: undefined,
    peerCertificate: null,
    chain,
    limits,
    workerId: 1,
    log: pino({ level: 'silent' }),
    metrics: new WorkerMetrics({ workerId: 1 }),
    onEnded,
  })
  const client = new Connection(clientSide, { protocolVersion: 5 })
  const inbox: Packet[] = []
  const waiters: Array<() => void> = []
  client.on('data', (p) => {
    inbox.push(p)
    for (const w of waiters.splice(0)) w()
  })
  const next = async (cmd: string): Promise<Packet> => {
    for (;;) {
      const i = inbox.findIndex((p) => p.cmd === cmd)
      if (i >= 0) return inbox.splice(i, 1)[0]!
      await new Promise<void>((resolve) => waiters.push(resolve))
    }
  }
  return { runner, client, next }
}

test('a runner on an in-memory pair: CONNACK, PUBACK with the hook reason, state moved on by the flows', async () => {
  const published: string[] = []
  const { runner, client, next } = pair({
    onPublish(_ctx, packet) {
      published.push(packet.topic)
      return { reasonCode: 0x10 }
    },
  })
  await runner.start()
  assert.equal(runner.phase, 'awaiting-connect')
  client.connect({
    cmd: 'connect',
    protocolId: 'MQTT',
    protocolVersion: 5,
    clientId: 'mem',
    clean: true,
    keepalive: 30,
  })
  const connack = await next('connack')
  assert.equal((connack as { reasonCode?: number }).reasonCode, 0)
  assert.equal(runner.phase, 'connected')
  assert.equal(runner.state.wasConnected, true)
  assert.equal(runner.state.keepaliveMs, 30_000)

  client.publish({
    cmd: 'publish',
    topic: 'a/b',
    payload: Buffer.from('x'),
    qos: 1,
    messageId: 7,
    retain: false,
    dup: false,
  })
  const puback = (await next('puback')) as { messageId?: number; reasonCode?: number }
  assert.deepEqual([puback.messageId, puback.reasonCode], [7, 0x10])
  assert.deepEqual(published, ['a/b'])

  client.disconnect({ cmd: 'disconnect', reasonCode: 0 })
  const info = await runner.closed
  assert.equal(info.reason, 'client-disconnect')
  assert.equal(info.wasConnected, true)
  assert.equal(runner.phase, 'closed')
  client.destroy()
})

test('a runner keeps no closure per connection on its Connection, and no promise until `closed` is asked for', async () => {
  const ended: ConnectionRunner[] = []
  const one = pair({}, (r) => ended.push(r))
  const two = pair({})
  for (const event of ['data', 'error', 'close']) {
    assert.equal(
      one.runner.connection.listeners(event)[0],
      two.runner.connection.listeners(event)[0],
      `one '${event}' function for both`,
    )
  }
  await one.runner.start()
  // the socket goes away under the runner
  one.runner.connection.stream.destroy()
  // asked for only after the end (reported once, through onEnded): resolved with what the end said
  while (ended.length === 0) await new Promise((resolve) => setImmediate(resolve))
  const info = await one.runner.closed
  assert.equal(info.reason, 'socket-closed')
  assert.deepEqual(ended, [one.runner])
  two.runner.connection.stream.destroy()
  await two.runner.closed
  one.client.destroy()
  two.client.destroy()
})

const connect5 = {
  cmd: 'connect',
  protocolId: 'MQTT',
  protocolVersion: 5,
  clientId: 'turn',
  clean: true,
  keepalive: 30,
} as const

/**
 * What the runner made of each packet by the time its Connection's `data` event returned: a
 * listener added after the runner's runs right after it, in the same emit.
 */
function phasesSeen(runner: ConnectionRunner): string[] {
  const seen: string[] = []
  runner.connection.on('data', (packet) => seen.push(`${packet.cmd}: ${runner.phase}`))
  return seen
}

test('hooks that answer at once: CONNECT, PINGREQ, DISCONNECT and the close are handled in the turn they arrive', async () => {
  const hooks: string[] = []
  const ended: ConnectionRunner[] = []
  const { runner, client, next } = pair(
    {
      onConnect: () => void hooks.push('onConnect'),
      onConnected: () => void hooks.push('onConnected'),
      onPing: () => void hooks.push('onPing'),
      onDisconnect: () => void hooks.push('onDisconnect'),
      onClose: () => void hooks.push('onClose'),
    },
    (r) => ended.push(r),
  )
  await runner.start()
  const phases = phasesSeen(runner)
  // the end is reported within the Connection's 'close' (a listener after the runner's sees it)
  const endedAtClose = new Promise<number>((resolve) =>
    runner.connection.on('close', () => resolve(ended.length)),
  )
  client.connect(connect5)
  await next('connack')
  // no promise, no microtask between the CONNECT and its CONNACK (#15: the connect path's allocations)
  assert.deepEqual(phases, ['connect: connected'])
  client.pingreq()
  await next('pingresp')
  client.disconnect({ cmd: 'disconnect', reasonCode: 0 })
  assert.equal(await endedAtClose, 1)
  assert.deepEqual(phases, ['connect: connected', 'pingreq: connected', 'disconnect: closing'])
  assert.deepEqual(hooks, ['onConnect', 'onConnected', 'onPing', 'onDisconnect', 'onClose'])
  assert.equal((await runner.closed).reason, 'client-disconnect')
  client.destroy()
})

test('a hook that answers with a promise: the packets after its CONNECT wait for it, in order', async () => {
  let release: () => void = () => {}
  const hooks: string[] = []
  const { runner, client, next } = pair({
    onConnect: () => new Promise<undefined>((resolve) => (release = () => resolve(undefined))),
    onPing: () => void hooks.push('onPing'),
  })
  await runner.start()
  const phases = phasesSeen(runner)
  client.connect(connect5)
  client.pingreq()
  while (phases.length < 2) await new Promise((resolve) => setImmediate(resolve))
  assert.deepEqual(phases, ['connect: connecting', 'pingreq: connecting'])
  assert.deepEqual(hooks, [])
  release()
  await next('connack')
  await next('pingresp')
  assert.deepEqual(hooks, ['onPing'])
  assert.equal(runner.phase, 'connected')
  runner.connection.stream.destroy()
  await runner.closed
  client.destroy()
})

test('[5.0 MQTT-3.1.0-2] a second CONNECT on the in-memory pair is a protocol error: DISCONNECT 0x82', async () => {
  const { runner, client, next } = pair({})
  await runner.start()
  const connect = {
    cmd: 'connect',
    protocolId: 'MQTT',
    protocolVersion: 5,
    clientId: 'twice',
    clean: true,
    keepalive: 0,
  } as const
  client.connect(connect)
  await next('connack')
  client.connect(connect)
  const disconnect = (await next('disconnect')) as { reasonCode?: number }
  assert.equal(disconnect.reasonCode, 0x82)
  const info = await runner.closed
  assert.equal(info.reason, 'protocol-error')
  assert.match(String(info.error), /second CONNECT/)
  // an in-memory pair does not carry the server's destroy to the client side (a socket would)
  client.destroy()
})

test('[5.0 MQTT-4.3.3-10] the handshake scratch is let go after CONNACK: its shape was sent, the restored QoS 2 ids moved to the flow', async () => {
  const { runner, client, next } = pair({
    onConnect(ctx) {
      ctx.connack.sessionPresent = true
      ctx.connack.properties.reasonString = 'shaped'
      ctx.awaitingRelease.add(7)
    },
  })
  await runner.start()
  client.connect({ ...connect5, clean: false })
  const connack = (await next('connack')) as {
    sessionPresent?: boolean
    properties?: Record<string, unknown>
  }
  assert.equal(connack.sessionPresent, true)
  assert.equal(connack.properties?.reasonString, 'shaped')
  // an idle connection holds neither for its life
  assert.equal(runner.ctx.connackShaped, false)
  assert.equal(runner.ctx.restoredAwaitingRelease, undefined)
  // the restored id is still awaiting release: PUBCOMP 0x00, not 0x92 (packet identifier not found)
  client.pubrel({ cmd: 'pubrel', messageId: 7 })
  const pubcomp = (await next('pubcomp')) as { reasonCode?: number }
  assert.equal(pubcomp.reasonCode ?? 0, 0)
  runner.connection.stream.destroy()
  await runner.closed
  client.destroy()
})

test('idle connections hold no timer each: their connect and keepalive deadlines share one', async () => {
  const timers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length
  const before = timers()
  const pairs = Array.from({ length: 20 }, () => pair({}))
  await Promise.all(pairs.map(({ runner }) => runner.start()))
  // waiting for CONNECT: the connect deadline of each
  assert.ok(timers() - before <= 1, `${timers() - before} timers for 20 connections awaiting CONNECT`)
  for (const { client } of pairs) client.connect({ ...connect5, keepalive: 60 })
  await Promise.all(pairs.map(({ next }) => next('connack')))
  // connected, keepalive 60 s: the keepalive deadline of each
  assert.ok(timers() - before <= 1, `${timers() - before} timers for 20 idle connections`)
  for (const { runner, client } of pairs) {
    runner.connection.stream.destroy()
    await runner.closed
    client.destroy()
  }
})
