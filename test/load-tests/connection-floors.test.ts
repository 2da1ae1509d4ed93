import assert from 'node:assert/strict'
import { type ChildProcess, spawn } from 'node:child_process'
import { connect } from 'node:net'
import { join } from 'node:path'
import { describe, type TestContext, test } from 'node:test'
import { freePort } from '../../load-tests/compare/targets.ts'
import { RawClient } from '../helpers/raw-client.ts'

// The connection benchmarks' floors (load-tests/connections/): what they report is only worth
// something if each answers CONNECT and PINGREQ over a real socket, connection after connection.

const dir = join(import.meta.dirname, '..', '..', 'load-tests', 'connections')

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1')
    socket.once('connect', () => {
      socket.destroy()
      resolve(true)
    })
    socket.once('error', () => resolve(false))
  })
}

async function startFloor(t: TestContext, script: string): Promise<number> {
  const port = await freePort()
  const child: ChildProcess = spawn(process.execPath, [join(dir, script), String(port)], { stdio: 'ignore' })
  t.after(() => {
    child.kill('SIGKILL')
  })
  for (let i = 0; i < 200 && child.exitCode === null; i++) {
    if (await accepts(port)) return port
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  throw new Error(`${script} did not listen on ${port} (exit code ${child.exitCode})`)
}

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
  for (const script of ['bare-server.ts', 'bare-handoff-server.ts']) {
    test(`${script} answers CONNECT and PINGREQ over TCP, in three rounds of 20 connections`, async (t) => {
      const port = await startFloor(t, script)
      // several rounds: the hand-off floor must keep handing off after its workers' connections ended
      for (let round = 0; round < 3; round++) await roundTrip(t, port, 20)
    })
  }
})
