import assert from 'node:assert/strict'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { text } from 'node:stream/consumers'
import { after, describe, test } from 'node:test'
import mqtt, { type MqttClient } from 'mqtt'
import { type ExampleServer, example, metricValue, startExampleServer } from './example-server.ts'

interface Endpoint {
  url: string
  server: Server
  bodies: Array<Record<string, unknown>>
}

async function endpoint(
  respond: (req: IncomingMessage, res: ServerResponse, body: string) => void,
): Promise<Endpoint> {
  const bodies: Array<Record<string, unknown>> = []
  const server = createServer(async (req, res) => {
    const body = await text(req)
    bodies.push(JSON.parse(body))
    respond(req, res, body)
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  const { port } = server.address() as { port: number }
  return { url: `http://127.0.0.1:${port}/hook`, server, bodies }
}

async function until(check: () => boolean | Promise<boolean>, what: string, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms
  while (!(await check())) {
    assert.ok(Date.now() < deadline, `timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 20))
  }
}

describe('webhook', () => {
  const cleanup: Array<() => Promise<unknown>> = []
  after(async () => {
    for (const fn of cleanup.reverse()) await fn()
  })

  async function start(
    options: Record<string, unknown>,
  ): Promise<{ server: ExampleServer; client: MqttClient }> {
    const server = await startExampleServer({ handlers: [example('webhook.ts', options)] })
    cleanup.push(() => server.close())
    const client = await mqtt.connectAsync(server.mqttUrl, { reconnectPeriod: 0, clientId: 'hook-client' })
    cleanup.push(() => client.endAsync(true))
    return { server, client }
  }

  test('posts matching publishes as JSON, retries 5xx with backoff, leaves the others alone', async () => {
    let failuresLeft = 2
    const hook = await endpoint((_req, res) => {
      res.statusCode = failuresLeft-- > 0 ? 503 : 204
      res.end()
    })
    cleanup.push(() => new Promise((r) => hook.server.close(r)))
    const { server, client } = await start({
      url: hook.url,
      topics: ['sensors/#'],
      retries: 3,
      backoffMs: 10,
    })

    await client.publishAsync('other/topic', 'ignored', { qos: 1 })
    await client.publishAsync('sensors/1', 'hello', { qos: 1 })
    await until(
      async () =>
        (await metricValue(server.adminUrl, 'mqttd_webhook_messages_total{outcome="delivered"}')) === 1,
      'delivery',
    )

    assert.equal(hook.bodies.length, 3, 'two 503s, then delivered')
    for (const body of hook.bodies) {
      assert.equal(body.topic, 'sensors/1')
      assert.equal(Buffer.from(body.payload as string, 'base64').toString(), 'hello')
      assert.equal(body.qos, 1)
      assert.equal(body.clientId, 'hook-client')
    }
    assert.equal(await metricValue(server.adminUrl, 'mqttd_webhook_retries_total'), 2)
    assert.equal(await metricValue(server.adminUrl, 'mqttd_webhook_messages_total{outcome="failed"}'), 0)
  })

  test('a 4xx answer is not retried and counts as failed', async () => {
    const hook = await endpoint((_req, res) => {
      res.statusCode = 400
      res.end()
    })
    cleanup.push(() => new Promise((r) => hook.server.close(r)))
    const { server, client } = await start({ url: hook.url, retries: 3, backoffMs: 10 })
    await client.publishAsync('x', 'y', { qos: 0 })
    await until(
      async () =>
        (await metricValue(server.adminUrl, 'mqttd_webhook_messages_total{outcome="failed"}')) === 1,
      'failure',
    )
    assert.equal(hook.bodies.length, 1)
  })

  test('a stuck endpoint never holds up the client; overflow beyond the queue is dropped and counted', async () => {
    const stuck: ServerResponse[] = []
    const hook = await endpoint((_req, res) => stuck.push(res))
    cleanup.push(
      () =>
        new Promise((r) => {
          for (const res of stuck) res.destroy()
          hook.server.closeAllConnections()
          hook.server.close(r)
        }),
    )
    const { server, client } = await start({
      url: hook.url,
      concurrency: 1,
      queueSize: 2,
      timeoutMs: 60_000,
      flushTimeoutMs: 100,
    })
    // Every QoS 1 PUBLISH is acknowledged while the endpoint answers nothing.
    for (let i = 0; i < 6; i++) await client.publishAsync(`t/${i}`, String(i), { qos: 1 })
    await until(() => stuck.length === 1, 'the one request in flight')
    // 1 in flight + 2 queued; the other 3 were dropped.
    assert.equal(await metricValue(server.adminUrl, 'mqttd_webhook_messages_total{outcome="dropped"}'), 3)
    assert.equal(await metricValue(server.adminUrl, 'mqttd_webhook_queue_length'), 2)
  })
})
