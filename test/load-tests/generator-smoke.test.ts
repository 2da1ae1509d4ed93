import assert from 'node:assert/strict'
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http'
import { createServer, type Server } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { Aedes } from 'aedes'
import { createWebSocketStream, WebSocketServer } from 'ws'
import { main } from '../../load-tests/generator/main.ts'
import { parseConfig } from '../../load-tests/generator/options.ts'

// A bounded run of the real generator against an in-process aedes: counts must
// add up and the JSON result must land on disk.

describe('load generator smoke (aedes in-process)', () => {
  let broker: Aedes
  let tcp: Server
  let http: HttpServer
  let tcpPort = 0
  let wsPort = 0
  const dir = mkdtempSync(join(tmpdir(), 'mqttd-load-'))

  before(async () => {
    broker = await Aedes.createBroker()
    tcp = createServer(broker.handle)
    await new Promise<void>((resolve) => tcp.listen(0, '127.0.0.1', resolve))
    tcpPort = (tcp.address() as { port: number }).port
    http = createHttpServer()
    const wss = new WebSocketServer({ server: http, perMessageDeflate: false })
    wss.on('connection', (ws) => broker.handle(createWebSocketStream(ws)))
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve))
    wsPort = (http.address() as { port: number }).port
  })

  after(async () => {
    await new Promise<void>((resolve) => broker.close(() => resolve()))
    tcp.close()
    http.closeAllConnections()
    http.close()
    rmSync(dir, { recursive: true, force: true })
  })

  test('pub QoS 1: 2 publishers × 50 messages arrive exactly once, result file written', async () => {
    const out = join(dir, 'pub.json')
    const { file, result } = await main([
      'pub',
      '--port',
      String(tcpPort),
      '--publishers',
      '2',
      '--messages',
      '50',
      '--qos',
      '1',
      '--window',
      '10',
      '--duration',
      '5',
      '--server-pid',
      String(process.pid),
      '--out',
      out,
      '--quiet',
    ])
    assert.equal(file, out)
    assert.equal(result.sent, 100)
    assert.equal(result.acked, 100)
    assert.equal(result.expected, 100)
    assert.equal(result.received, 100)
    assert.equal(result.lost, 0)
    assert.equal(result.duplicates, 0)
    assert.equal((result.latency as { count: number }).count, 100)
    assert.equal((result.ackLatency as { count: number }).count, 100)
    assert.ok(existsSync(out))
    const onDisk = JSON.parse(readFileSync(out, 'utf8'))
    assert.equal(onDisk.received, 100)
    assert.equal(typeof onDisk.cpu.serverPct, 'number')
  })

  test('pub QoS 0 over WebSocket with 2 subscribers: every message reaches both', async () => {
    const { result } = await main([
      'pub',
      '--transport',
      'ws',
      '--path',
      '/',
      '--port',
      String(wsPort),
      '--publishers',
      '2',
      '--subscribers',
      '2',
      '--messages',
      '25',
      '--rate',
      '500',
      '--duration',
      '5',
      '--out',
      join(dir, 'pub-ws.json'),
      '--quiet',
    ])
    assert.equal(result.sent, 50)
    assert.equal(result.expected, 100)
    assert.equal(result.received, 100)
  })

  test('conn: 20 connections over 2 worker threads all get CONNACK', async () => {
    const out = join(dir, 'conn.json')
    const { result } = await main([
      'conn',
      '--port',
      String(tcpPort),
      '--connections',
      '20',
      '--threads',
      '2',
      '--concurrency',
      '5',
      '--duration',
      '5',
      '--out',
      out,
      '--quiet',
    ])
    assert.equal(result.connected, 20)
    assert.equal(result.failed, 0)
    assert.equal((result.connectLatency as { count: number }).count, 20)
    assert.ok(existsSync(out))
  })

  test('options refuse a target outside the loopback range', () => {
    assert.throws(() => parseConfig(['pub', '--host', '10.0.0.1']), /127\.0\.0\.0\/8/)
    assert.throws(() => parseConfig(['pub', '--duration', '100000']), /--duration/)
    assert.throws(() => parseConfig(['idle', '--connections', '10']), /--server-pid/)
  })
})
