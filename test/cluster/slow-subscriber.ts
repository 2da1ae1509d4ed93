/**
 * A persistent subscriber for the dead-node tests that acknowledges slowly, so
 * the server keeps messages in flight and queued for it, and that can stop
 * acknowledging when its node is killed.
 */
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt'
import { WaitList } from '../helpers/wait-list.ts'

export interface Got {
  payload: string
  dup: boolean
}

/**
 * A subscriber that acknowledges each QoS 1 message a few milliseconds after it
 * arrived (mqtt.js's handleMessage): mqtt.js reads no further packet meanwhile, so the server keeps the
 * rest in flight and queued for it. `received`: acknowledged (so delivered); each also goes to
 * `also` (several members of a share group counted together).
 */
export function slowSubscriber(url: string, options: IClientOptions, delayMs: number, also?: WaitList<Got>) {
  const received = new WaitList<Got>()
  const unacked = new Set<string>()
  let frozen = false
  const client: MqttClient = mqtt.connect(url, { reconnectPeriod: 0, ...options })
  // mqtt.js sends the PUBACK when this calls back, and reads no further packet meanwhile
  client.handleMessage = (packet, callback) => {
    if (packet.cmd !== 'publish') return callback()
    const payload = packet.payload.toString()
    unacked.add(payload)
    const ack = () => {
      // its node is gone: the PUBACK would go nowhere
      if (frozen) return
      unacked.delete(payload)
      received.push({ payload, dup: packet.dup })
      also?.push({ payload, dup: packet.dup })
      callback()
    }
    if (delayMs === 0) ack()
    else setTimeout(ack, delayMs)
  }
  const connack = new Promise<{ sessionPresent: boolean }>((resolve, reject) => {
    client.once('connect', resolve)
    client.once('error', reject)
  })
  // the socket dies with the node: not an error of the test
  client.on('error', () => {})
  /** Stops acknowledging; returns what arrived and was not acknowledged. */
  const freeze = (): string[] => {
    frozen = true
    return [...unacked]
  }
  return { client, received, freeze, connack }
}
