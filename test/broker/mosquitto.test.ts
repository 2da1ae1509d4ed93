/**
 * The broker with mosquitto's command-line clients (mosquitto-clients 2.x):
 * retained and live messages, v3.1.1 and v5, on a two-worker server.
 */
import assert from 'node:assert/strict'
import { execFile, spawn } from 'node:child_process'
import { test } from 'node:test'
import { promisify } from 'node:util'
import { hasMosquitto } from '../helpers/mosquitto.ts'
import { startBroker } from './helpers.ts'

const run = promisify(execFile)

for (const version of ['mqttv311', 'mqttv5'] as const) {
  test(`mosquitto_pub/mosquitto_sub (${version}): retained QoS 1 message and live QoS 2 messages through the broker`, async (t) => {
    if (!(await hasMosquitto())) return t.skip('mosquitto-clients not installed')
    const server = await startBroker(t, { reportWorker: false })
    const port = String(server.port())
    await run('mosquitto_pub', [
      '-h',
      '127.0.0.1',
      '-p',
      port,
      '-V',
      version,
      '-q',
      '1',
      '-r',
      '-t',
      'mq/kept',
      '-m',
      'retained',
    ])
    // -C 3: exit after three messages; -W: give up after 10 s
    const sub = spawn('mosquitto_sub', [
      '-h',
      '127.0.0.1',
      '-p',
      port,
      '-V',
      version,
      '-q',
      '2',
      '-t',
      'mq/#',
      '-C',
      '3',
      '-W',
      '10',
      '-v',
    ])
    t.after(() => sub.kill())
    let out = ''
    sub.stdout.on('data', (chunk: Buffer) => {
      out += String(chunk)
    })
    const exited = new Promise<number | null>((resolve) => sub.on('exit', resolve))
    // wait for the retained message: the subscription is in place
    while (!out.includes('retained')) await new Promise((r) => setTimeout(r, 20))
    for (const m of ['one', 'two']) {
      await run('mosquitto_pub', [
        '-h',
        '127.0.0.1',
        '-p',
        port,
        '-V',
        version,
        '-q',
        '2',
        '-t',
        `mq/${m}`,
        '-m',
        m,
      ])
    }
    assert.equal(await exited, 0)
    assert.deepEqual(out.trim().split('\n'), ['mq/kept retained', 'mq/one one', 'mq/two two'])
  })
}
