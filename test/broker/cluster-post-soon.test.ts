/**
 * Control posted with postSoon() (the session directory's `held` on every
 * connect, `released` on every close) goes out once per turn: one
 * BroadcastChannel post for all of a turn's, and before any later post so
 * peers see the order they would have seen with one post each. Structure,
 * not time: the test counts posts on the channel.
 */
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { test } from 'node:test'
import { setImmediate as turn } from 'node:timers/promises'
import { BroadcastChannel } from 'node:worker_threads'
import { Cluster, type ClusterMessage } from '../../src/broker/cluster.ts'

const stamp = { time: 1, worker: 1 }

function pair(t: { after: (fn: () => void) => void }) {
  const name = `test:${randomUUID()}`
  const received: ClusterMessage[] = []
  const sender = new Cluster(name, 1, () => {})
  const receiver = new Cluster(name, 2, (m) => received.push(m))
  // a bare member of the channel: what crosses it, one event per post
  const posts: unknown[] = []
  const tap = new BroadcastChannel(name)
  tap.onmessage = (event) => posts.push((event as { data: unknown }).data)
  t.after(() => {
    sender.close()
    receiver.close()
    tap.close()
  })
  const settle = async () => {
    for (let i = 0; i < 5; i++) await turn()
  }
  return { sender, received, posts, settle }
}

test('directory changes of one turn cross the channel in one post, in order', async (t) => {
  const { sender, received, posts, settle } = pair(t)
  sender.postSoon({ t: 'held', from: 1, clientId: 'a', stamp })
  sender.postSoon({ t: 'held', from: 1, clientId: 'b', stamp })
  sender.postSoon({ t: 'released', from: 1, clientId: 'a' })
  await settle()
  assert.equal(posts.length, 1, 'one post for the turn')
  assert.deepEqual(
    received.map((m) => [m.t, 'clientId' in m ? m.clientId : undefined]),
    [
      ['held', 'a'],
      ['held', 'b'],
      ['released', 'a'],
    ],
  )
})

test('a post after postSoon() in the same turn arrives after what was queued', async (t) => {
  const { sender, received, settle } = pair(t)
  sender.postSoon({ t: 'held', from: 1, clientId: 'c', stamp })
  sender.post({ t: 'take', from: 1, to: 2, reqId: 1, clientId: 'c', resume: false })
  await settle()
  assert.deepEqual(
    received.map((m) => m.t),
    ['held', 'take'],
  )
})

test('a message for another worker inside a batch is dropped on arrival', async (t) => {
  const { sender, received, settle } = pair(t)
  sender.postSoon({ t: 'held', from: 1, clientId: 'd', stamp })
  sender.postSoon({ t: 'given', from: 1, to: 3, reqId: 1, clientId: 'd', snapshot: null })
  await settle()
  assert.deepEqual(
    received.map((m) => m.t),
    ['held'],
  )
})

test('close() posts what postSoon() queued', async (t) => {
  const { sender, received, settle } = pair(t)
  sender.postSoon({ t: 'released', from: 1, clientId: 'e' })
  sender.close()
  await settle()
  assert.deepEqual(
    received.map((m) => m.t),
    ['released'],
  )
})
