import assert from 'node:assert/strict'
import { describe, type TestContext, test } from 'node:test'
import { startServer, type TargetName } from '../../load-tests/compare/targets.ts'
import { RawClient } from '../helpers/raw-client.ts'

// The connection benchmarks' floors (load-tests/connections/), started as bench:compare starts
// them: what they report is only worth something if each answers CONNECT and PINGREQ over a real
// socket, connection after connection.

/** Connects `n` clients at once, each expecting CONNACK then PINGRESP, then closes them. */
async function roundTrip(t: TestContext, port: number, n: number): Promise<void> {
  const clients = await Promise.all(
    Array.from({ length: n }, () => RawClient.connect(t, port, { clientId: '', protocolVersion: 4 })),
  )
  for (const { client, connack } of clients) {
    assert.equal(connack.returnCode, 0)
    client.send({ cmd: 'pingreq' })
  }
  for (const { client } of clients) assert.notEqual(await client.next('pingresp'), null)
  for (const { client } of clients) client.destroy()
  await Promise.all(clients.map(({ client }) => client.closed))
}

describe('connection benchmark floors', () => {
  for (const name of ['bare', 'bare-handoff'] as TargetName[]) {
    test(`${name} answers CONNECT and PINGREQ over TCP, in three rounds of 20 connections`, async (t) => {
      const server = await startServer(name, { cpus: null, mqttdWorkers: 1, mqttdConfig: {} })
      t.after(() => server.stop())
      // several rounds: the hand-off floor must keep handing off after its worker's connections ended
      for (let round = 0; round < 3; round++) await roundTrip(t, server.port, 20)
    })
  }
})
