/**
 * Secure by default: what may listen beyond loopback. An MQTT listener on a
 * non-loopback address needs an `auth:` section (a password file, or
 * `allowAnonymous: true` said explicitly); a non-loopback admin API needs a
 * token, or `admin.allowNoToken: true`. mosquitto 2 refuses the same.
 */
import { isIPv4, isIPv6 } from 'node:net'
import type { MqttdConfig } from '../config/schema.ts'
import { mqttdError } from '../errors.ts'
import type { AuthSettings } from './state.ts'

/** Whether binding `host` keeps a listener on this machine. Names other than localhost count as exposed. */
export function isLoopback(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase()
  if (h === 'localhost') return true
  if (isIPv4(h)) return h.startsWith('127.')
  if (isIPv6(h)) return h === '::1' || /^::ffff:127\./.test(h) || h === '0:0:0:0:0:0:0:1'
  return false
}

/**
 * Refuses a config that exposes MQTT without authentication or the admin
 * API without a token.
 * @throws MQTTD_ERR_AUTH_REQUIRED, MQTTD_ERR_ADMIN_TOKEN_REQUIRED
 */
export function assertSafeExposure(config: MqttdConfig): void {
  if (config.auth === undefined) {
    const open = config.listeners.find((l) => !isLoopback(l.host))
    if (open !== undefined) throw mqttdError('MQTTD_ERR_AUTH_REQUIRED', open.name, open.host)
  }
  const admin = config.admin
  if (admin.enabled && admin.token === undefined && !admin.allowNoToken && !isLoopback(admin.host)) {
    throw mqttdError('MQTTD_ERR_ADMIN_TOKEN_REQUIRED', admin.host)
  }
}

/**
 * The settings the built-in auth handler runs with, or null when the config
 * has no `auth:` (then every listener is on loopback and anyone may connect).
 * `allowAnonymous` defaults to true only while every listener is on loopback.
 */
export function authSettings(config: MqttdConfig): AuthSettings | null {
  if (config.auth === undefined) return null
  const loopbackOnly = config.listeners.every((l) => isLoopback(l.host))
  return {
    allowAnonymous: config.auth.allowAnonymous ?? loopbackOnly,
    passwordFile: config.auth.passwordFile ?? null,
    aclFile: config.auth.aclFile ?? null,
  }
}
