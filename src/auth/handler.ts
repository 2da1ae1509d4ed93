/**
 * The built-in authentication and authorization, a handler module like any
 * other: the server puts it first in the chain when the config has an
 * `auth:` section, before the user's handlers and the broker.
 *
 * - CONNECT: a username with a password checked against the password file
 *   (mosquitto's `$6$`/`$7$` hashes, compared in constant time), or an
 *   anonymous client when `allowAnonymous`; refused with 0x86 (bad username
 *   or password; 3.1.1 return code 4) or 0x87 (not authorized; 3.1.1 code 5).
 *   A will message whose topic the client may not write refuses the CONNECT
 *   with 0x87, as in mosquitto.
 * - PUBLISH to a topic the ACL does not let the client write: refused
 *   (v5 PUBACK/PUBREC 0x87; 3.1.1: acknowledged and dropped).
 * - SUBSCRIBE to a topic (no wildcard) the client may not read: that filter
 *   gets 0x87 (3.1.1: 0x80). A wildcard filter is granted, and each message
 *   is checked at delivery (a read filter): only what the client may read
 *   reaches it, as mosquitto does.
 */
import { randomUUID } from 'node:crypto'
import type { Counter } from 'prom-client'
import { defineHandler } from '../handlers/define-handler.ts'
import { setReadFilter } from '../handlers/read-filter.ts'
import type { HookContext, HookResult, ReasonResult } from '../handlers/types.ts'
import { type AclAccess, type AclSubject, aclAllows } from './acl-file.ts'
import { metricCounter } from './metrics.ts'
import { decodePasswordHash, hashPassword, type PasswordHash, verifyPassword } from './password-hash.ts'
import { type AuthData, type AuthSettings, currentAuth, loadAuthData, setAuth } from './state.ts'

const BAD_CREDENTIALS = 0x86
const NOT_AUTHORIZED = 0x87

/** A refusal, with its reason string only when a v5 client did not opt out [5.0 MQTT-3.1.2-29]. */
function refusal(ctx: HookContext, reasonCode: number, reasonString: string): ReasonResult {
  const wants =
    ctx.protocolVersion === 5 && ctx.connectPacket?.properties?.requestProblemInformation !== false
  return wants ? { reasonCode, reasonString } : { reasonCode }
}

function subjectOf(ctx: HookContext): AclSubject {
  return { clientId: ctx.clientId, username: ctx.connectPacket?.username }
}

function allowed(auth: AuthData, ctx: HookContext, topic: string, access: AclAccess): boolean {
  return auth.acl === null || aclAllows(auth.acl, subjectOf(ctx), topic, access)
}

function hasWildcard(filter: string): boolean {
  return filter.includes('+') || filter.includes('#')
}

/** `$share/<group>/<filter>` → `<filter>` */
function unshared(filter: string): string {
  if (!filter.startsWith('$share/')) return filter
  const slash = filter.indexOf('/', '$share/'.length)
  return slash < 0 ? filter : filter.slice(slash + 1)
}

export default defineHandler((options, worker) => {
  setAuth(loadAuthData(options as unknown as AuthSettings))
  const failures: Counter<'reason'> = metricCounter(worker.metrics, 'authFailures')
  const denied: Counter<'action'> = metricCounter(worker.metrics, 'aclDenied')
  // an entry no password matches (random salt and hash), checked for unknown users
  const decoy: Promise<PasswordHash> = hashPassword(randomUUID()).then(
    (encoded) => decodePasswordHash(encoded) as PasswordHash,
  )
  const fail = (ctx: HookContext, reason: string, code: number, text: string) => {
    failures.labels(reason).inc()
    ctx.log.info({ username: ctx.connectPacket?.username, reason }, 'authentication failed')
    return refusal(ctx, code, text)
  }

  return {
    name: 'auth',

    async onConnect(ctx, packet): Promise<HookResult> {
      const auth = currentAuth()!
      const username = packet.username
      if (username === undefined || auth.passwords === null) {
        if (!auth.allowAnonymous) {
          return fail(ctx, 'anonymous', NOT_AUTHORIZED, 'Anonymous clients are not allowed')
        }
      } else {
        const entry = auth.passwords.get(username)
        if (entry === undefined) {
          // as slow as a wrong password: the answer's timing does not tell which users exist
          await verifyPassword(packet.password ?? Buffer.alloc(0), await decoy)
          return fail(ctx, 'unknown_user', BAD_CREDENTIALS, 'Bad user name or password')
        }
        if (packet.password === undefined || !(await verifyPassword(packet.password, entry))) {
          return fail(ctx, 'bad_password', BAD_CREDENTIALS, 'Bad user name or password')
        }
      }
      if (packet.will !== undefined && !allowed(auth, ctx, packet.will.topic, 'write')) {
        denied.labels('publish').inc()
        return refusal(ctx, NOT_AUTHORIZED, 'Will topic not authorized')
      }
      if (auth.acl !== null) {
        // asks the data current at delivery time: a reloaded ACL applies to connected clients too
        setReadFilter(ctx, (topic) => allowed(currentAuth()!, ctx, topic, 'read'))
      }
      return undefined
    },

    onPublish(ctx, packet): HookResult {
      const auth = currentAuth()!
      if (auth.acl === null || allowed(auth, ctx, packet.topic, 'write')) return undefined
      denied.labels('publish').inc()
      ctx.log.debug({ topic: packet.topic }, 'publish denied by the ACL')
      return refusal(ctx, NOT_AUTHORIZED, 'Not authorized')
    },

    onSubscribe(ctx, packet, granted): HookResult {
      const auth = currentAuth()!
      if (auth.acl === null) return undefined
      for (let i = 0; i < packet.subscriptions.length; i++) {
        if (granted[i]! >= 0x80) continue
        const filter = unshared(packet.subscriptions[i]!.topic)
        if (hasWildcard(filter) || allowed(auth, ctx, filter, 'read')) continue
        granted[i] = NOT_AUTHORIZED
        denied.labels('subscribe').inc()
        ctx.log.debug({ filter }, 'subscription denied by the ACL')
      }
      return undefined
    },
  }
})
