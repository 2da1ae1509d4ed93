/**
 * connect-storm — stock k6, MQTT over WebSocket (k6/websockets + our codec).
 * ramp to CONNECTIONS connections (one per VU), hold each HOLD_S seconds; measures connect→CONNACK.
 * Run: k6 run -e MQTT_URL=ws://127.0.0.1:8083/mqtt load-tests/k6/ws/connect-storm.js (see load-tests/README.md)
 */
import { check } from 'k6'
import { Counter, Trend } from 'k6/metrics'
import { WebSocket } from 'k6/websockets'
import { readConfig } from '../lib/config.js'
import { connectStorm, connectStormOptions, makeMetrics } from '../lib/scenarios.js'
import { wsClientClass } from '../lib/ws-client.js'

const cfg = readConfig(__ENV, 'ws://127.0.0.1:8083/mqtt')
const Client = wsClientClass(WebSocket)
const metrics = makeMetrics(Trend, Counter)

export const options = connectStormOptions(cfg)

export default function () {
  connectStorm(Client, cfg, { vu: __VU, iter: __ITER, prefix: '' }, metrics, check)
}
