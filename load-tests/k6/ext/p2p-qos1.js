/**
 * p2p-qos1 — k6 built with the xk6-mqtt extension (k6/x/mqtt).
 * each VU publishes MESSAGES QoS 1 messages to its own topic and receives them back; latency from the payload stamp.
 * Run: k6 run -e MQTT_URL=mqtt://127.0.0.1:1883 load-tests/k6/ext/p2p-qos1.js (see load-tests/README.md)
 */
import { check } from 'k6'
import { Counter, Trend } from 'k6/metrics'
import { Client } from 'k6/x/mqtt'
import { readConfig } from '../lib/config.js'
import { makeMetrics, p2pOptions, p2pQos1 } from '../lib/scenarios.js'

const cfg = readConfig(__ENV, 'mqtt://127.0.0.1:1883')
const metrics = makeMetrics(Trend, Counter)

export const options = p2pOptions(cfg)

export function setup() {
  return { prefix: `k6/${Date.now()}` }
}

export default function (data) {
  p2pQos1(Client, cfg, { vu: __VU, iter: __ITER, prefix: data.prefix }, metrics, check)
}
