import assert from 'node:assert/strict'
import { execFile, spawnSync } from 'node:child_process'
import { test } from 'node:test'
import { collectEvents } from '../helpers/events.ts'
import { startTestServer } from '../helpers/server.ts'
import { tlsFiles } from '../helpers/tls.ts'

const fixture = (name: string) => new URL(`../fixtures/handlers/${name}`, import.meta.url).pathname
const available = spawnSync('mosquitto_pub', ['--help']).error === undefined
// in CI the clients must be there (.ci/run installs them): never skip silently
const skip =
  !available && !process.env.CI
    ? 'mosquitto-clients is not installed (apt-get install mosquitto-clients)'
    : false

function run(cmd: string, args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = execFile(cmd, args, { timeout: 15_000 }, (err, stdout, stderr) =>
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    )
    child.stdin?.end()
  })
}

const tlsArgs = ['--cafile', tlsFiles.ca]

for (const transport of ['tcp', 'tls'] as const) {
  for (const version of ['mqttv311', 'mqttv5'] as const) {
    test(`mosquitto_pub ${version} over ${transport}: QoS 1 and 2 publishes reach the handlers`, {
      skip,
    }, async (t) => {
      const events = collectEvents(t)
      const server = await startTestServer(t, {
        workers: 2,
        listeners: [transport],
        tls: { key: tlsFiles.key, cert: tlsFiles.cert },
        handlers: [{ module: fixture('recorder.ts'), options: { channel: events.channel } }],
      })
      for (const qos of ['1', '2']) {
        const result = await run('mosquitto_pub', [
          ...['-h', '127.0.0.1', '-p', String(server.port(transport)), '-V', version],
          ...(transport === 'tls' ? tlsArgs : []),
          ...[
            '-q',
            qos,
            '-t',
            `mosq/${transport}`,
            '-m',
            `hello-${qos}`,
            '-i',
            `pub-${transport}-${version}-${qos}`,
          ],
        ])
        assert.equal(result.code, 0, result.stderr)
      }
      const published = await events.waitForCount((e) => e.event === 'publish', 2)
      assert.deepEqual(published.map((e) => e.payload).sort(), ['hello-1', 'hello-2'])
      const closes = await events.waitForCount((e) => e.event === 'close', 2)
      assert.ok(closes.every((e) => e.reason === 'client-disconnect'))
    })
  }
}

for (const transport of ['tcp', 'tls'] as const) {
  test(`mosquitto_sub over ${transport} receives what mosquitto_pub sends through the built-in broker`, {
    skip,
  }, async (t) => {
    const server = await startTestServer(t, {
      workers: 2,
      listeners: [transport],
      tls: { key: tlsFiles.key, cert: tlsFiles.cert },
      broker: true,
    })
    const common = [
      '-h',
      '127.0.0.1',
      '-p',
      String(server.port(transport)),
      ...(transport === 'tls' ? tlsArgs : []),
    ]
    const sub = run('mosquitto_sub', [
      ...common,
      '-V',
      'mqttv5',
      '-q',
      '1',
      '-t',
      'mosq/#',
      '-C',
      '1',
      '-W',
      '10',
      '-v',
    ])
    // publish until the subscription is in place (retained would hide ordering issues)
    let received: { code: number | null; stdout: string; stderr: string } | undefined
    void sub.then((r) => {
      received = r
    })
    for (let i = 0; i < 50 && received === undefined; i++) {
      await run('mosquitto_pub', [
        ...common,
        '-V',
        'mqttv311',
        '-q',
        '1',
        '-t',
        'mosq/x',
        '-m',
        'through-the-broker',
      ])
      await new Promise((r) => setTimeout(r, 100))
    }
    const result = await sub
    assert.equal(result.code, 0, result.stderr)
    assert.equal(result.stdout.trim(), 'mosq/x through-the-broker')
  })
}
