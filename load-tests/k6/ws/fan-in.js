/**
 * fan-in — stock k6, MQTT over WebSocket (k6/websockets + our codec).
 * PUBLISHERS publishers (default 100) into CONSUMERS members (default 2) of one shared subscription ($share/k6/…).
 * Run: k6 run -e MQTT_URL=ws://127.0.0.1:8083/mqtt load-tests/k6/ws/fan-in.js (see load-tests/README.md)
 */
import { check } from 'k6'
import { Counter, Trend } from 'k6/metrics'
import { WebSocket } from 'k6/websockets'
import { readConfig } from '../lib/config.js'
import { fanInConsumer, fanInPublisher, listenSeconds, makeMetrics, pubSubOptions } from '../lib/scenarios.js'
import { wsClientClass } from '../lib/ws-client.js'

const cfg = readConfig({ PUBLISHERS: '100', ...__ENV }, 'ws://127.0.0.1:8083/mqtt')
const Client = wsClientClass(WebSocket)
const metrics = makeMetrics(Trend, Counter)

export const options = pubSubOptions(cfg, cfg.consumers, 1)

export function setup() {
  return { prefix: `k6/${Date.now()}` }
}

export function subscribe(data) {
  fanInConsumer(
    Client,
    cfg,
    { vu: __VU, iter: __ITER, prefix: data.prefix },
    metrics,
    check,
    listenSeconds(cfg),
  )
}

export function publish(data) {
  fanInPublisher(Client, cfg, { vu: __VU, iter: __ITER, prefix: data.prefix }, metrics, check)
}
