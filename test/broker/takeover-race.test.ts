/**
 * Two connections with one client id arriving at the same moment on two
 * workers: afterwards exactly one is connected, owns the session and gets
 * the messages; the other was closed.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { connectClient, delay, startBroker, type TestClient } from './helpers.ts'

test('[3.1.1 MQTT-3.1.4-2] [5.0 MQTT-3.1.4-3] simultaneous connects with one client id on two workers: one connection survives and owns the session', async (t) => {
  const server = await startBroker(t)
  const persistent = {
    protocolVersion: 5 as const,
    clientId: 'racer',
    clean: false,
    properties: { sessionExpiryInterval: 60 },
  }
  const pub = await connectClient(t, server, { protocolVersion: 5, clientId: 'race-pub' })
  const rounds: string[] = []
  let crossWorker = 0
  for (let round = 0; round < 5; round++) {
    const settled = await Promise.allSettled([
      connectClient(t, server, persistent),
      connectClient(t, server, persistent),
    ])
    const clients = settled
      .filter((s): s is PromiseFulfilledResult<TestClient> => s.status === 'fulfilled')
      .map((s) => s.value)
    rounds.push(`${settled.map((s) => s.status).join('/')}@${clients.map((c) => c.worker).join('/')}`)
    if (new Set(clients.map((c) => c.worker)).size === 2) crossWorker++
    // let takeovers land
    await delay(300)
    const alive = clients.filter((c) => c.client.connected)
    assert.equal(alive.length, 1, `round ${round}: ${alive.length} connections alive`)
    const survivor = alive[0]!
    await survivor.client.subscribeAsync('race/#', { qos: 1 })
    await pub.client.publishAsync('race/x', `r${round}`, { qos: 1 })
    await survivor.inbox.waitFor(1, 5000, (p) => String(p.payload) === `r${round}`)
    for (const c of clients) c.client.end(true)
    await delay(100)
  }
  assert.ok(crossWorker > 0, `at least one round raced across the two workers: ${rounds.join(' ')}`)
})
