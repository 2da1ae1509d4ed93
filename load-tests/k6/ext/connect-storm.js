/**
 * connect-storm — k6 built with the xk6-mqtt extension (k6/x/mqtt).
 * ramp to CONNECTIONS connections (one per VU), hold each HOLD_S seconds; measures connect→CONNACK.
 * Run: k6 run -e MQTT_URL=mqtt://127.0.0.1:1883 load-tests/k6/ext/connect-storm.js (see load-tests/README.md)
 */
import { check } from 'k6'
import { Counter, Trend } from 'k6/metrics'
import { Client } from 'k6/x/mqtt'
import { readConfig } from '../lib/config.js'
import { connectStorm, connectStormOptions, makeMetrics } from '../lib/scenarios.js'

const cfg = readConfig(__ENV, 'mqtt://127.0.0.1:1883')
const metrics = makeMetrics(Trend, Counter)

export const options = connectStormOptions(cfg)

export default function () {
  connectStorm(Client, cfg, { vu: __VU, iter: __ITER, prefix: '' }, metrics, check)
}
