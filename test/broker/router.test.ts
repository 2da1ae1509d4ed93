/**
 * Router protocol tests without threads: three Routers on an in-process bus
 * whose deliveries the test controls, so stale views between workers can be
 * set up exactly.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { Packet } from 'mqtt-packet'
import type { ClusterMessage } from '../../src/broker/cluster.ts'
import type { BrokerMessage } from '../../src/broker/message.ts'
import { Router } from '../../src/broker/router.ts'
import { Session, type Subscription } from '../../src/broker/session.ts'
import { parseFilter } from '../../src/protocol/topic.ts'

class Bus {
  readonly routers = new Map<number, Router>()
  readonly queues = new Map<number, ClusterMessage[]>()
  readonly drops: string[] = []
  /** Sessions by worker, for `direct` deliveries (the Broker's job outside these tests). */
  readonly sessions = new Map<number, Map<string, Session>>()

  add(id: number): Router {
    const router = new Router({
      workerId: id,
      retained: { maxMessages: 100, maxBytes: 1e6 },
      post: (m) => {
        for (const other of this.routers.keys()) if (other !== id) this.queues.get(other)!.push(m)
      },
      send: (to, m) => {
        for (const t of to) this.queues.get(t)!.push(m)
      },
      drop: (r) => this.drops.push(r),
      stubTtlMs: 60_000,
      maxQueuedMessages: 100,
      publishWaitMs: 2000,
      publishCredit: 100,
    })
    this.routers.set(id, router)
    this.queues.set(id, [])
    return router
  }

  /** Delivers queued messages (those `hold` accepts stay queued) until none is left to deliver. */
  pump(hold: (to: number, m: ClusterMessage) => boolean = () => false): void {
    for (let progress = true; progress; ) {
      progress = false
      for (const [id, queue] of this.queues) {
        const kept: ClusterMessage[] = []
        for (const m of queue.splice(0)) {
          if (hold(id, m)) kept.push(m)
          else {
            if ('to' in m && (typeof m.to === 'number' ? m.to !== id : !m.to.includes(id))) continue
            if (m.t === 'direct') this.sessions.get(id)?.get(m.clientId)?.deliver(m.delivery, Date.now())
            else this.routers.get(id)!.onMessage(m)
            progress = true
          }
        }
        queue.push(...kept)
      }
    }
  }

  /** Every router tells every other its table (what `hello`/`sync` does in the Broker). */
  sync(): void {
    for (const [id, router] of this.routers) {
      const { seq, filters } = router.syncState()
      for (const other of this.routers.keys()) {
        if (other !== id)
          this.queues.get(other)!.push({ t: 'sync', from: id, to: other, seq, filters, sessions: [] })
      }
    }
    this.pump()
  }
}

function online(clientId: string): { session: Session; got: string[] } {
  const got: string[] = []
  const session = new Session(clientId, 0, { maxQueuedMessages: 100, maxPendingWrites: 100 }, () => {})
  session.attach({
    send: async (p: Packet) => {
      if (p.cmd === 'publish') got.push(String(p.payload))
      return true
    },
    protocolVersion: 5,
    receiveMaximum: 100,
    topicAliasMaximum: 0,
    maximumPacketSize: undefined,
  })
  return { session, got }
}

const sub: Subscription = { qos: 0, nl: false, rap: false, rh: 0, subscriptionId: undefined }
const msg = (topic: string, payload: string): BrokerMessage => ({
  topic,
  payload: Buffer.from(payload),
  qos: 0,
  retain: false,
  properties: undefined,
  expiresAt: undefined,
  origin: 'p',
})

test('[5.0 §4.8.2] a share group message sent to a worker whose last member just left is re-routed once to another holder', () => {
  const bus = new Bus()
  const a = bus.add(1)
  const b = bus.add(2)
  const c = bus.add(3)
  const sb = online('sb')
  const sc = online('sc')
  b.subscribe(sb.session, '$share/g/t', parseFilter('$share/g/t')!, sub)
  c.subscribe(sc.session, '$share/g/t', parseFilter('$share/g/t')!, sub)
  b.flush()
  c.flush()
  bus.pump()
  // sb leaves; A does not hear of it yet
  b.unsubscribe(sb.session, '$share/g/t')
  b.flush()
  const fromBToA = (to: number, m: ClusterMessage) => to === 1 && m.from === 2 && m.t === 'subs'
  bus.pump(fromBToA)
  for (let i = 0; i < 30; i++) a.publish(msg('t', String(i)))
  bus.pump(fromBToA)
  assert.deepEqual(sb.got, [])
  assert.deepEqual(
    sc.got.map(Number).sort((x, y) => x - y),
    Array.from({ length: 30 }, (_, i) => i),
  )
  assert.deepEqual(bus.drops, [])
})

test('[3.1.1 MQTT-3.3.5-1] plain subscribers on several workers: one copy each, nobody twice, $ topics not matched by #', () => {
  const bus = new Bus()
  const a = bus.add(1)
  const b = bus.add(2)
  const c = bus.add(3)
  const x = online('x')
  const y = online('y')
  b.subscribe(x.session, 'n/#', parseFilter('n/#')!, sub)
  b.subscribe(x.session, 'n/+', parseFilter('n/+')!, sub)
  c.subscribe(y.session, '#', parseFilter('#')!, sub)
  bus.sync()
  assert.equal(a.publish(msg('n/1', 'one')), 2)
  assert.equal(a.publish(msg('$SYS/x', 'sys')), 0)
  bus.pump()
  assert.deepEqual(x.got, ['one'])
  assert.deepEqual(y.got, ['one'])
})

test('hand-over: a session moved from B to C while A publishes with stale and half-updated views is delivered exactly once', () => {
  const bus = new Bus()
  const a = bus.add(1)
  const b = bus.add(2)
  const c = bus.add(3)
  const onB = online('m')
  b.subscribe(onB.session, 'h/#', parseFilter('h/#')!, sub)
  bus.sync()
  // B does not hear C's announcement until the end; A hears nothing at first
  const cToB = (to: number, m: ClusterMessage) => to === 2 && m.from === 3 && m.t === 'subs'
  let hold: (to: number, m: ClusterMessage) => boolean = (to, m) => to === 1 || cToB(to, m)
  const pump = () => bus.pump((to, m) => hold(to, m))
  // B hands the session to C: out of B's index, a stub in; C installs and announces
  b.moveOut(onB.session, 3)
  onB.session.detach()
  const onC = online('m')
  for (const [raw, s] of structuredClone(onB.session.snapshot()).subscriptions)
    onC.session.setSubscription(raw, s)
  bus.sessions.set(3, new Map([['m', onC.session]]))
  c.addSession(onC.session, 2)
  // A still sees m on B only: B's stub forwards
  a.publish(msg('h/1', 'stale'))
  // A learns of C, B does not yet: A sends to B and C; B's stub cannot tell yet whether C delivered, so it waits
  hold = (to, m) => (to === 1 && m.from === 2) || cToB(to, m)
  pump()
  a.publish(msg('h/2', 'half'))
  pump()
  assert.deepEqual(onC.got, ['stale', 'half'])
  // B learns C's sequence: the waiting message was delivered by C, not forwarded; B withdraws, A sends to C only
  hold = () => false
  pump()
  a.publish(msg('h/3', 'fresh'))
  pump()
  assert.deepEqual(onB.got, [])
  assert.deepEqual(onC.got, ['stale', 'half', 'fresh'])
  assert.deepEqual(bus.drops, [])
})
