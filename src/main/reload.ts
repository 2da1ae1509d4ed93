/**
 * Reload (SIGHUP, `POST /reload`): compares the config running with the one
 * just read and validated, and says what can change live and what needs a
 * restart. Live: the password and ACL files (and `auth.allowAnonymous`), TLS
 * certificates and keys (new connections), `log.level`, the per-connection
 * limits (new connections), `limits.maxConnections` and
 * `limits.connectionRatePerAddress`, `admin.token`, `shutdown.drainTimeoutMs`.
 * Connected clients are never dropped: what is checked per message (ACL)
 * applies to them at once, what is negotiated at CONNECT stays as it was.
 */
import { createSecureContext } from 'node:tls'
import { authSettings } from '../auth/exposure.ts'
import { type AuthSettings, withFileTexts } from '../auth/state.ts'
import type { MqttdConfig } from '../config/schema.ts'
import type { WorkerReload } from '../control/protocol.ts'
import { mqttdError } from '../errors.ts'
import type { TlsMaterial } from '../transport/tls.ts'

export type { WorkerReload }

import { readTlsMaterial } from './tls-material.ts'

/** Limits a worker applies to the connections it starts after the reload. */
export const workerLimitKeys = [
  'maxPacketSize',
  'connectTimeoutMs',
  'maxKeepaliveSeconds',
  'receiveMaximum',
  'topicAliasMaximum',
] as const
/** Limits the main thread's admission control applies at once. */
export const mainLimitKeys = ['maxConnections', 'connectionRatePerAddress'] as const

export interface ReloadPlan {
  applied: string[]
  restartNeeded: string[]
  worker: WorkerReload
  /** The auth settings with file texts now in force (kept to compare with the next reload). */
  auth: AuthSettings | null
  tls: Map<string, TlsMaterial>
}

const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b)

/**
 * Plans a reload from `running` to `next`; reads the files (password, ACL,
 * TLS) the new config names, so a missing or bad file refuses the reload.
 * @throws MQTTD_ERR_AUTH_FILE, MQTTD_ERR_TLS_FILE
 */
export function planReload(
  running: MqttdConfig,
  next: MqttdConfig,
  current: { auth: AuthSettings | null; tls: ReadonlyMap<string, TlsMaterial> },
): ReloadPlan {
  const applied: string[] = []
  const restartNeeded: string[] = []
  const worker: WorkerReload = {}

  // auth: the handler is in the chain or not; only its data can change live
  let auth = current.auth
  const nextAuth = authSettings(next)
  if ((auth === null) !== (nextAuth === null)) restartNeeded.push('auth')
  else if (auth !== null && nextAuth !== null) {
    const fresh = withFileTexts(nextAuth)
    const changed: string[] = []
    if (fresh.allowAnonymous !== auth.allowAnonymous) changed.push('auth.allowAnonymous')
    if (fresh.passwordFile !== auth.passwordFile || fresh.passwordText !== auth.passwordText)
      changed.push('auth.passwordFile')
    if (fresh.aclFile !== auth.aclFile || fresh.aclText !== auth.aclText) changed.push('auth.aclFile')
    if (changed.length > 0) {
      applied.push(...changed)
      worker.auth = fresh
    }
    auth = fresh
  }

  // listeners: the sockets stay; certificates and keys are re-read for new TLS connections
  const tls = new Map(current.tls)
  if (!same(running.listeners, next.listeners)) restartNeeded.push('listeners')
  else {
    for (const listener of next.listeners) {
      if (listener.type !== 'tls' && listener.type !== 'wss') continue
      const material = readTlsMaterial(listener)
      try {
        // a key that does not fit its certificate is refused here, not in every worker
        createSecureContext({ key: material.key, cert: material.cert, ca: material.ca })
      } catch (err) {
        throw mqttdError('MQTTD_ERR_TLS_FILE', 'key/cert', listener.name, (err as Error).message)
      }
      if (same(material, current.tls.get(listener.name!))) continue
      worker.tls ??= {}
      worker.tls[listener.name!] = material
      tls.set(listener.name!, material)
      applied.push(`listeners.${listener.name}.tls`)
    }
  }

  if (next.log.level !== running.log.level) {
    worker.logLevel = next.log.level
    applied.push('log.level')
  }
  for (const key of Object.keys(next.log) as (keyof MqttdConfig['log'])[]) {
    if (key !== 'level' && !same(next.log[key], running.log[key])) restartNeeded.push(`log.${key}`)
  }

  const limits = next.limits as unknown as Record<string, number>
  const old = running.limits as unknown as Record<string, number>
  for (const key of new Set([...Object.keys(limits), ...Object.keys(old)])) {
    if (same(limits[key], old[key])) continue
    if ((workerLimitKeys as readonly string[]).includes(key)) {
      worker.limits ??= {}
      worker.limits[key] = limits[key]!
      applied.push(`limits.${key}`)
    } else if ((mainLimitKeys as readonly string[]).includes(key)) applied.push(`limits.${key}`)
    else restartNeeded.push(`limits.${key}`)
  }

  for (const key of Object.keys({ ...next.admin, ...running.admin }) as (keyof MqttdConfig['admin'])[]) {
    if (same(next.admin[key], running.admin[key])) continue
    if (key === 'token') applied.push('admin.token')
    else restartNeeded.push(`admin.${key}`)
  }
  if (next.shutdown.drainTimeoutMs !== running.shutdown.drainTimeoutMs)
    applied.push('shutdown.drainTimeoutMs')
  for (const key of ['workers', 'handlers', 'broker'] as const) {
    if (!same(next[key], running[key])) restartNeeded.push(key)
  }
  return { applied, restartNeeded, worker, auth, tls }
}
