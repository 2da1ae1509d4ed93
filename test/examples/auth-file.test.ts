import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import mqtt, { type ErrorWithSubackPacket, type IClientOptions, type MqttClient } from 'mqtt'
import { parsePasswordFile, rulesFor } from '../../examples/handlers/auth-file.ts'
import { hashPassword, passwordLine, verifyPassword } from '../../examples/handlers/auth-file-hash.ts'
import { type ExampleServer, example, examplesDir, startExampleServer } from './example-server.ts'

/** Cheap scrypt parameters keep the test fast; the format carries them. */
const fast = { N: 1024, r: 8, p: 1 }

describe('auth-file-hash', () => {
  test('a hash verifies its password and no other', async () => {
    const hash = await hashPassword('s3cret', fast)
    assert.match(hash, /^scrypt\$1024\$8\$1\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+$/)
    assert.equal(await verifyPassword('s3cret', hash), true)
    assert.equal(await verifyPassword('s3cret ', hash), false)
    assert.equal(await verifyPassword('s3cret', 'plain$text'), false)
    assert.notEqual(await hashPassword('s3cret', fast), hash, 'fresh salt each time')
  })

  test('passwordLine refuses user names the file format cannot hold', async () => {
    await assert.rejects(passwordLine('a:b', 'x'), TypeError)
    await assert.rejects(passwordLine('', 'x'), TypeError)
  })

  test('the CLI reads the password from stdin and prints a verifiable line', async () => {
    const child = spawn(process.execPath, [join(examplesDir, 'auth-file-hash.ts'), 'carol'], {
      stdio: ['pipe', 'pipe', 'inherit'],
    })
    child.stdin.end('pa ss\n')
    let out = ''
    child.stdout.on('data', (b: Buffer) => (out += b))
    const code = await new Promise((r) => child.once('exit', r))
    assert.equal(code, 0)
    const users = parsePasswordFile(out)
    assert.deepEqual([...users.keys()], ['carol'])
    assert.equal(await verifyPassword('pa ss', users.get('carol')!), true)
  })
})

test('password file parsing skips comments and rejects malformed lines', () => {
  const users = parsePasswordFile('# users\n\nalice:scrypt$x\n  bob:scrypt$y  \n')
  assert.deepEqual(
    [...users],
    [
      ['alice', 'scrypt$x'],
      ['bob', 'scrypt$y'],
    ],
  )
  assert.throws(() => parsePasswordFile('no-colon-here'), /user:hash/)
})

test('rulesFor merges the entries naming the user with those of "*"', () => {
  const acl = [
    { user: '*', publish: ['a/%u'] },
    { user: 'alice', subscribe: ['s/#'] },
    { user: 'bob', publish: ['b'] },
  ]
  assert.deepEqual(rulesFor(acl, 'alice'), { publish: ['a/%u'], subscribe: ['s/#'] })
  assert.deepEqual(rulesFor(acl, 'eve'), { publish: ['a/%u'], subscribe: [] })
})

describe('auth-file in the server', () => {
  let server: ExampleServer
  let dir: string
  const clients: MqttClient[] = []

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'mqttd-auth-file-'))
    const lines = [
      `alice:${await hashPassword('alice-pw', fast)}`,
      `bob:${await hashPassword('bob-pw', fast)}`,
    ]
    writeFileSync(join(dir, 'passwords.txt'), `${lines.join('\n')}\n`)
    server = await startExampleServer({
      handlers: [
        example('auth-file.ts', {
          passwordFile: join(dir, 'passwords.txt'),
          acl: [
            { user: '*', publish: ['clients/%c/#'], subscribe: ['public/#', 'users/%u/#'] },
            { user: 'alice', publish: ['sensors/#'], subscribe: ['sensors/#'] },
            { user: 'bob', subscribe: ['#'] },
          ],
        }),
      ],
    })
  })

  after(async () => {
    await Promise.all(clients.map((c) => c.endAsync(true)))
    await server?.close()
    rmSync(dir, { recursive: true, force: true })
  })

  async function connect(options: IClientOptions): Promise<MqttClient> {
    const client = await mqtt.connectAsync(server.mqttUrl, { reconnectPeriod: 0, ...options })
    clients.push(client)
    return client
  }

  async function refusal(options: IClientOptions): Promise<number | undefined> {
    return connect(options).then(
      () => undefined,
      (err: { code?: number }) => err.code,
    )
  }

  test('v3.1.1: wrong password and unknown user get CONNACK 4, no user name gets 5', async () => {
    assert.equal(await refusal({ protocolVersion: 4, username: 'alice', password: 'nope' }), 4)
    assert.equal(await refusal({ protocolVersion: 4, username: 'mallory', password: 'alice-pw' }), 4)
    assert.equal(await refusal({ protocolVersion: 4 }), 5)
  })

  test('v5: wrong password gets CONNACK 0x86, no user name gets 0x87', async () => {
    assert.equal(await refusal({ protocolVersion: 5, username: 'alice', password: 'nope' }), 0x86)
    assert.equal(await refusal({ protocolVersion: 5, username: 'alice' }), 0x86)
    assert.equal(await refusal({ protocolVersion: 5 }), 0x87)
  })

  test('SUBACK refuses each filter outside the rules: 0x87 on v5, 0x80 on v3.1.1', async () => {
    const v5 = await connect({ protocolVersion: 5, username: 'alice', password: 'alice-pw' })
    // mqtt.js rejects a v5 SUBACK holding a failure code; the SUBACK rides on the error.
    const suback5 = await v5
      .subscribeAsync(['sensors/+/temp', 'secret/#', 'users/alice/inbox', 'users/bob/#'], { qos: 1 })
      .then(
        () => assert.fail('expected a refused filter'),
        (err: ErrorWithSubackPacket) => err.packet,
      )
    assert.deepEqual(suback5.granted, [1, 0x87, 1, 0x87])
    const v3 = await connect({ protocolVersion: 4, username: 'alice', password: 'alice-pw' })
    const suback3 = await v3.subscribeAsync(['public/news', '#', 'sensors/#'], { qos: 1 }).then(
      () => assert.fail('expected a refused filter'),
      (err: ErrorWithSubackPacket) => err.packet,
    )
    assert.deepEqual(suback3.granted, [1, 0x80, 1])
  })

  test('a refused publish is not routed: PUBACK 0x87 on v5, a plain PUBACK on v3.1.1 [3.1.1 MQTT-3.3.5-2]', async () => {
    const bob = await connect({ protocolVersion: 5, username: 'bob', password: 'bob-pw' })
    await bob.subscribeAsync('#', { qos: 1 })
    const received: string[] = []
    bob.on('message', (topic) => received.push(topic))

    const alice5 = await connect({
      protocolVersion: 5,
      username: 'alice',
      password: 'alice-pw',
      clientId: 'a5',
    })
    await assert.rejects(alice5.publishAsync('secret/x', 'no', { qos: 1 }), (err: { code?: number }) => {
      assert.equal(err.code, 0x87)
      return true
    })
    const alice3 = await connect({
      protocolVersion: 4,
      username: 'alice',
      password: 'alice-pw',
      clientId: 'a3',
    })
    await alice3.publishAsync('secret/y', 'no', { qos: 1 })
    // %c: each client may publish under its own client id.
    await alice3.publishAsync('clients/a3/status', 'up', { qos: 1 })
    await alice5.publishAsync('sensors/1/temp', '21', { qos: 1 })
    const seen = new Promise<void>((resolve) => {
      const check = () => received.includes('sensors/1/temp') && received.includes('clients/a3/status')
      if (check()) resolve()
      bob.on('message', () => check() && resolve())
    })
    await seen
    assert.deepEqual(received.sort(), ['clients/a3/status', 'sensors/1/temp'])
    await assert.rejects(alice5.publishAsync('clients/a3/status', 'spoof', { qos: 1 }), { code: 0x87 })
  })
})

test('anonymous: true lets clients without a user name in, with the "*" rules and %u = ""', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'mqttd-auth-anon-'))
  try {
    writeFileSync(join(dir, 'passwords.txt'), '')
    const factory = (await import('../../examples/handlers/auth-file.ts')).default
    const options = {
      passwordFile: join(dir, 'passwords.txt'),
      anonymous: true,
      acl: [{ user: '*', publish: ['open/#'] }],
    }
    const handler = await factory(options)
    const ctx = {
      clientId: 'anon-1',
      protocolVersion: 4,
      state: {} as Record<string, unknown>,
      log: { info() {} },
    }
    assert.equal(await handler.onConnect!(ctx as never, { cmd: 'connect' } as never), undefined)
    assert.equal(handler.onPublish!(ctx as never, { topic: 'open/x' } as never), undefined)
    assert.deepEqual(handler.onPublish!(ctx as never, { topic: 'closed/x' } as never), { reasonCode: 0x87 })
    // a user name that is not in the file is still checked
    assert.deepEqual(await handler.onConnect!(ctx as never, { cmd: 'connect', username: 'x' } as never), {
      reasonCode: 0x86,
    })
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})
