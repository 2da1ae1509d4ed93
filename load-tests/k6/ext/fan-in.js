/**
 * fan-in — k6 built with the xk6-mqtt extension (k6/x/mqtt).
 * PUBLISHERS publishers (default 100) into CONSUMERS members (default 2) of one shared subscription ($share/k6/…).
 * Run: k6 run -e MQTT_URL=mqtt://127.0.0.1:1883 load-tests/k6/ext/fan-in.js (see load-tests/README.md)
 */
import { check } from 'k6'
import { Counter, Trend } from 'k6/metrics'
import { Client } from 'k6/x/mqtt'
import { readConfig } from '../lib/config.js'
import { fanInConsumer, fanInPublisher, listenSeconds, makeMetrics, pubSubOptions } from '../lib/scenarios.js'

const cfg = readConfig({ PUBLISHERS: '100', ...__ENV }, 'mqtt://127.0.0.1:1883')
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
