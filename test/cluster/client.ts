/**
 * mqtt.js clients for the cluster tests: connected to one node, collecting
 * what they receive, with waits for a number of messages or a sentinel.
 */
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt'
import { WaitList } from '../helpers/wait-list.ts'

export interface Received {
  topic: string
  payload: string
  qos: number
  retain: boolean
  properties: Record<string, unknown> | undefined
}

export interface TestClient {
  client: MqttClient
  received: Received[]
  /** Resolves once `count` messages matching `match` arrived (all of them so far). */
  waitFor(match: (m: Received) => boolean, count?: number, timeoutMs?: number): Promise<Received[]>
  end(): Promise<void>
}

export async function connectClient(url: string, options: IClientOptions = {}): Promise<TestClient> {
  const client = await mqtt.connectAsync(url, { protocolVersion: 5, reconnectPeriod: 0, ...options })
  const list = new WaitList<Received>()
  const received = list.items
  client.on('message', (topic, payload, packet) => {
    list.push({
      topic,
      payload: payload.toString(),
      qos: packet.qos,
      retain: packet.retain,
      properties: packet.properties as Record<string, unknown> | undefined,
    })
  })
  return {
    client,
    received,
    waitFor(match, count = 1, timeoutMs = 10_000) {
      return list.waitForCount(
        match,
        count,
        timeoutMs,
        () =>
          `timed out: ${count} messages wanted; got ${JSON.stringify(received.map((r) => [r.topic, r.payload]))}`,
      )
    },
    async end() {
      await client.endAsync(true)
    },
  }
}
