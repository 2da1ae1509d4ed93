import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { exportJWK, exportSPKI, generateKeyPair, type JWTPayload, SignJWT } from 'jose'
import mqtt, { type ErrorWithSubackPacket, type IClientOptions, type MqttClient } from 'mqtt'
import type { IAuthPacket } from 'mqtt-packet'
import jwtAuth, { rulesFromClaims } from '../../examples/handlers/jwt-auth.ts'
import { rawClient } from '../helpers/raw-client.ts'
import { type ExampleServer, example, startExampleServer } from './example-server.ts'

const secret = 'a-test-secret-of-at-least-32-bytes!!'
const now = () => Math.floor(Date.now() / 1000)

function hs256(claims: JWTPayload, key = secret): Promise<string> {
  return new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).sign(new TextEncoder().encode(key))
}

const acl = { mqtt: { publish: ['users/%u/#'], subscribe: ['users/%u/#', 'public/#'] } }

function connectOutcome(url: string, options: IClientOptions): Promise<MqttClient | number> {
  return mqtt.connectAsync(url, { reconnectPeriod: 0, ...options }).then(
    (c) => c,
    (err: { code?: number }) => err.code ?? -1,
  )
}

test('rulesFromClaims reads mqtt.publish / mqtt.subscribe and ignores junk', () => {
  assert.deepEqual(rulesFromClaims({ mqtt: { publish: ['a', 3], subscribe: 'b' } }), {
    publish: ['a'],
    subscribe: [],
  })
  assert.deepEqual(rulesFromClaims({}), { publish: [], subscribe: [] })
})

// mqtt-packet (so mqtt.js) cannot send a password without a user name, even on v5.
describe('jwt-auth with HS256, token as password', () => {
  let server: ExampleServer
  const clients: MqttClient[] = []
  before(async () => {
    server = await startExampleServer({ handlers: [example('jwt-auth.ts', { secret, audience: 'mqttd' })] })
  })
  after(async () => {
    await Promise.all(clients.map((c) => c.endAsync(true)))
    await server?.close()
  })
  const connect = async (options: IClientOptions) => {
    const outcome = await connectOutcome(server.mqttUrl, options)
    if (typeof outcome !== 'number') clients.push(outcome)
    return outcome
  }

  test('a valid token connects (v5 and v3.1.1); the claims decide the topics', async () => {
    const token = await hs256({ sub: 'alice', aud: 'mqttd', exp: now() + 60, ...acl })
    const v3 = await connect({ protocolVersion: 4, username: 'alice', password: token })
    assert.notEqual(typeof v3, 'number')
    const v5 = (await connect({ protocolVersion: 5, username: 'alice', password: token })) as MqttClient
    const suback = await v5.subscribeAsync(['users/alice/#', 'users/bob/#'], { qos: 1 }).then(
      () => assert.fail('users/bob/# must be refused'),
      (err: ErrorWithSubackPacket) => err.packet,
    )
    assert.deepEqual(suback.granted, [1, 0x87])
    const got = new Promise<string>((r) => v5.once('message', (topic) => r(topic)))
    await v5.publishAsync('users/alice/x', 'hi', { qos: 1 })
    assert.equal(await got, 'users/alice/x')
    await assert.rejects(v5.publishAsync('users/bob/x', 'no', { qos: 1 }), { code: 0x87 })
  })

  test('wrong key, expired token, missing exp, wrong audience and subject mismatch are refused', async () => {
    const good = { sub: 'alice', aud: 'mqttd', exp: now() + 60 }
    assert.equal(
      await connect({ protocolVersion: 5, username: 'alice', password: await hs256(good, `${secret}x`) }),
      0x86,
    )
    assert.equal(
      await connect({
        protocolVersion: 5,
        username: 'alice',
        password: await hs256({ ...good, exp: now() - 60 }),
      }),
      0x86,
    )
    assert.equal(
      await connect({
        protocolVersion: 5,
        username: 'alice',
        password: await hs256({ sub: 'alice', aud: 'mqttd' }),
      }),
      0x86,
    )
    assert.equal(
      await connect({
        protocolVersion: 5,
        username: 'alice',
        password: await hs256({ ...good, aud: 'other' }),
      }),
      0x86,
    )
    assert.equal(await connect({ protocolVersion: 4, password: 'not-a-jwt', username: 'alice' }), 4)
    assert.equal(await connect({ protocolVersion: 5, username: 'bob', password: await hs256(good) }), 0x87)
    assert.equal(await connect({ protocolVersion: 4 }), 4)
  })

  test('re-authentication (AUTH 0x19) with a fresh token extends the connection; another subject is refused', async (t) => {
    const raw = await rawClient(t, Number(new URL(server.mqttUrl).port), 5)
    const auth = (token: string) =>
      raw.send({
        cmd: 'auth',
        reasonCode: 0x19,
        properties: { authenticationMethod: 'JWT', authenticationData: Buffer.from(token) },
      })
    const expiring = await hs256({ sub: 'alice', aud: 'mqttd', exp: now() + 2 })
    raw.send({
      cmd: 'connect',
      protocolId: 'MQTT',
      protocolVersion: 5,
      clean: true,
      clientId: 'reauth',
      keepalive: 0,
      properties: { authenticationMethod: 'JWT', authenticationData: Buffer.from(expiring) },
    })
    assert.equal((await raw.next('connack'))?.reasonCode, 0)
    auth(await hs256({ sub: 'alice', aud: 'mqttd', exp: now() + 60 }))
    assert.equal((await raw.next('auth'))?.reasonCode, 0x00)
    // The first token's expiry passes; the connection stays (a PINGREQ is still answered).
    await new Promise((r) => setTimeout(r, 3000))
    raw.send({ cmd: 'pingreq' })
    assert.equal((await raw.next('pingresp'))?.cmd, 'pingresp')
    // Re-authenticating as somebody else ends the connection with 0x87.
    auth(await hs256({ sub: 'mallory', aud: 'mqttd', exp: now() + 60 }))
    const disconnect = await raw.next('disconnect')
    assert.equal(disconnect?.reasonCode, 0x87)
    await raw.closed
  })

  test('the connection ends when the token expires: DISCONNECT 0xA0', async () => {
    const client = (await connect({
      protocolVersion: 5,
      username: 'alice',
      password: await hs256({ sub: 'alice', aud: 'mqttd', exp: now() + 2 }),
    })) as MqttClient
    const disconnect = await new Promise<{ reasonCode?: number }>((r) => client.once('disconnect', r))
    assert.equal(disconnect.reasonCode, 0xa0)
  })
})

describe('jwt-auth with RS256 keys from a JWKS file, enhanced authentication (method JWT)', () => {
  let server: ExampleServer
  let dir: string
  let privateKey: CryptoKey
  const clients: MqttClient[] = []
  const rs256 = (claims: JWTPayload) =>
    new SignJWT(claims).setProtectedHeader({ alg: 'RS256', kid: 'k1' }).sign(privateKey)

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'mqttd-jwt-'))
    const pair = await generateKeyPair('RS256', { extractable: true })
    privateKey = pair.privateKey
    const jwk = { ...(await exportJWK(pair.publicKey)), kid: 'k1', alg: 'RS256', use: 'sig' }
    writeFileSync(join(dir, 'jwks.json'), JSON.stringify({ keys: [jwk] }))
    writeFileSync(join(dir, 'public.pem'), await exportSPKI(pair.publicKey))
    server = await startExampleServer({
      handlers: [example('jwt-auth.ts', { jwksFile: join(dir, 'jwks.json') })],
    })
  })
  after(async () => {
    await Promise.all(clients.map((c) => c.endAsync(true)))
    await server?.close()
    rmSync(dir, { recursive: true, force: true })
  })
  const connect = async (options: IClientOptions) => {
    const outcome = await connectOutcome(server.mqttUrl, { protocolVersion: 5, ...options })
    if (typeof outcome !== 'number') clients.push(outcome)
    return outcome
  }

  test('token in CONNECT Authentication Data: accepted, CONNACK echoes the method', async () => {
    const token = await rs256({ sub: 'dev1', exp: now() + 60, ...acl })
    const client = (await connect({
      properties: { authenticationMethod: 'JWT', authenticationData: Buffer.from(token) },
    })) as MqttClient
    assert.equal(typeof client, 'object')
    const connack = await new Promise<{ properties?: Record<string, unknown> }>((resolve) => {
      // The CONNACK already arrived; mqtt.js keeps nothing of it, so reconnect to observe it.
      const c = mqtt.connect(server.mqttUrl, {
        protocolVersion: 5,
        reconnectPeriod: 0,
        properties: { authenticationMethod: 'JWT', authenticationData: Buffer.from(token) },
      })
      clients.push(c)
      c.once('connect', (packet) => resolve(packet))
    })
    assert.equal(connack.properties?.authenticationMethod, 'JWT')
  })

  test('CONNECT without data: the server asks with AUTH 0x18 and accepts the token in AUTH', async () => {
    const token = await rs256({ sub: 'dev2', exp: now() + 60 })
    const client = mqtt.connect(server.mqttUrl, {
      protocolVersion: 5,
      reconnectPeriod: 0,
      properties: { authenticationMethod: 'JWT' },
    })
    clients.push(client)
    const asked: IAuthPacket[] = []
    client.handleAuth = (packet, callback) => {
      asked.push(packet)
      callback(undefined, {
        cmd: 'auth',
        reasonCode: 0x18,
        properties: { authenticationMethod: 'JWT', authenticationData: Buffer.from(token) },
      })
    }
    await new Promise<void>((resolve, reject) => {
      client.once('connect', () => resolve())
      client.once('error', reject)
    })
    assert.equal(asked.length, 1)
    assert.equal(asked[0]!.reasonCode, 0x18)
  })

  test('a token signed by another key and another authentication method are refused', async () => {
    const other = await generateKeyPair('RS256')
    const forged = await new SignJWT({ sub: 'x', exp: now() + 60 })
      .setProtectedHeader({ alg: 'RS256', kid: 'k1' })
      .sign(other.privateKey)
    const data = { authenticationMethod: 'JWT', authenticationData: Buffer.from(forged) }
    assert.equal(await connect({ properties: data }), 0x87)
    assert.equal(await connect({ properties: { authenticationMethod: 'SCRAM-SHA-256' } }), 0x8c)
  })

  test('publicKeyFile (SPKI PEM) verifies the same tokens', async () => {
    const handler = await jwtAuth({ publicKeyFile: join(dir, 'public.pem') })
    const token = await rs256({ sub: 'dev3', exp: now() + 60 })
    const ctx = {
      clientId: 'c',
      protocolVersion: 5,
      state: {},
      log: { info() {} },
      connack: { sessionPresent: false, properties: {} },
    }
    const ok = await handler.onConnect!(
      ctx as never,
      { cmd: 'connect', password: Buffer.from(token) } as never,
    )
    assert.equal(ok, undefined)
    const bad = await handler.onConnect!(
      ctx as never,
      { cmd: 'connect', password: Buffer.from('x.y.z') } as never,
    )
    assert.deepEqual(bad, { reasonCode: 0x86 })
  })
})
