/**
 * p2p-qos1 — stock k6, MQTT over WebSocket (k6/websockets + our codec).
 * each VU publishes MESSAGES QoS 1 messages to its own topic and receives them back; latency from the payload stamp.
 * Run: k6 run -e MQTT_URL=ws://127.0.0.1:8083/mqtt load-tests/k6/ws/p2p-qos1.js (see load-tests/README.md)
 */
import { check } from 'k6'
import { Counter, Trend } from 'k6/metrics'
import { WebSocket } from 'k6/websockets'
import { readConfig } from '../lib/config.js'
import { makeMetrics, p2pOptions, p2pQos1 } from '../lib/scenarios.js'
import { wsClientClass } from '../lib/ws-client.js'

const cfg = readConfig(__ENV, 'ws://127.0.0.1:8083/mqtt')
const Client = wsClientClass(WebSocket)
const metrics = makeMetrics(Trend, Counter)

export const options = p2pOptions(cfg)

export function setup() {
  return { prefix: `k6/${Date.now()}` }
}

export default function (data) {
  p2pQos1(Client, cfg, { vu: __VU, iter: __ITER, prefix: data.prefix }, metrics, check)
}
