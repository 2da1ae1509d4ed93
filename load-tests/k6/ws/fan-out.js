/**
 * fan-out — stock k6, MQTT over WebSocket (k6/websockets + our codec).
 * PUBLISHERS publishers (default 5), SUBSCRIBERS subscribers (default 50) that each receive every message.
 * Run: k6 run -e MQTT_URL=ws://127.0.0.1:8083/mqtt load-tests/k6/ws/fan-out.js (see load-tests/README.md)
 */
import { check } from 'k6'
import { Counter, Trend } from 'k6/metrics'
import { WebSocket } from 'k6/websockets'
import { readConfig } from '../lib/config.js'
import {
  fanOutPublisher,
  fanOutSubscriber,
  listenSeconds,
  makeMetrics,
  pubSubOptions,
} from '../lib/scenarios.js'
import { wsClientClass } from '../lib/ws-client.js'

const cfg = readConfig(__ENV, 'ws://127.0.0.1:8083/mqtt')
const Client = wsClientClass(WebSocket)
const metrics = makeMetrics(Trend, Counter)

export const options = pubSubOptions(cfg, cfg.subscribers, cfg.subscribers)

export function setup() {
  return { prefix: `k6/${Date.now()}` }
}

export function subscribe(data) {
  fanOutSubscriber(
    Client,
    cfg,
    { vu: __VU, iter: __ITER, prefix: data.prefix },
    metrics,
    check,
    listenSeconds(cfg),
  )
}

export function publish(data) {
  fanOutPublisher(Client, cfg, { vu: __VU, iter: __ITER, prefix: data.prefix }, metrics, check)
}
