/**
 * Scenario settings from k6's `__ENV` (or a plain object under Node), with
 * the bounds every load here respects: a loopback broker URL only, finite
 * counts and durations.
 */

/** Refuses any broker that is not on this machine. */
export function assertLoopbackUrl(url) {
  const m = /^[a-z]+:\/\/(\[[^\]]+\]|[^/:]+)/i.exec(url)
  const host = m ? m[1] : ''
  if (host === 'localhost' || host === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(host)) return url
  throw new Error(`refusing broker ${url}: load tests only target 127.0.0.0/8, ::1 or localhost`)
}

function num(env, name, def, max) {
  const raw = env[name]
  if (raw === undefined || raw === '') return def
  const n = Number(raw)
  if (!Number.isFinite(n) || n < 0 || n > max) throw new Error(`${name} must be a number in [0, ${max}]`)
  return n
}

/**
 * @param {Record<string, string | undefined>} env k6's __ENV
 * @param {string} defaultUrl ws://… for the WebSocket flavour, mqtt://… for xk6-mqtt
 */
export function readConfig(env, defaultUrl) {
  return {
    url: assertLoopbackUrl(env.MQTT_URL || defaultUrl),
    mqttVersion: num(env, 'MQTT_VERSION', 4, 5) === 5 ? 5 : 4,
    /** connect-storm: connections to ramp to, how long to ramp and to hold each one. */
    connections: num(env, 'CONNECTIONS', 1000, 50_000),
    rampS: num(env, 'RAMP_S', 30, 600),
    holdS: num(env, 'HOLD_S', 30, 600),
    /** p2p / fan-out / fan-in */
    vus: num(env, 'VUS', 20, 10_000),
    publishers: num(env, 'PUBLISHERS', 5, 10_000),
    subscribers: num(env, 'SUBSCRIBERS', 50, 10_000),
    /** fan-in: members of the shared subscription group */
    consumers: num(env, 'CONSUMERS', 2, 1000),
    messages: num(env, 'MESSAGES', 100, 1_000_000),
    intervalMs: num(env, 'INTERVAL_MS', 100, 60_000),
    payload: num(env, 'PAYLOAD', 64, 1_000_000),
    qos: num(env, 'QOS', 1, 2),
    /** Extra time a subscriber waits for the last messages. */
    graceS: num(env, 'GRACE_S', 5, 120),
    keepalive: num(env, 'KEEPALIVE', 60, 65535),
  }
}
