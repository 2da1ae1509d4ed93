/**
 * An example of an authentication handler of your own. mqttd has mosquitto-compatible password
 * and ACL files built in (`auth:` in the config, see docs/operations.md); start there.
 *
 * Example handler: users and passwords from a file of scrypt hashes, and per-user topic rules.
 *
 *   handlers:
 *     - module: ./handlers/auth-file.ts
 *       options:
 *         passwordFile: /etc/mqttd/passwords.txt   # lines "user:scrypt$…" (auth-file-hash.ts)
 *         anonymous: false                          # clients without a user name are refused
 *         acl:                                      # a user gets the rules of every entry naming
 *           - user: "*"                             # them, plus those of "*"; %u = user name,
 *             publish: ["clients/%c/#"]             # %c = client id
 *             subscribe: ["public/#", "users/%u/#"]
 *           - user: alice
 *             publish: ["sensors/#"]
 *             subscribe: ["sensors/#"]
 *
 * Cost: a check with the default scrypt parameters took ~45 ms here (2 cores), on libuv's thread
 * pool (UV_THREADPOOL_SIZE, default 4, shared by all workers), so a reconnect storm of
 * password clients is bounded to roughly 4 / 0.045 ≈ 90 logins per second: raise
 * UV_THREADPOOL_SIZE (and the cores) for more.
 *
 * Put it before the broker so that refused packets never reach it. Refusals use the code of
 * the client's protocol: v5 reason codes; the framework answers v3.1.1 clients with the
 * CONNACK return code and SUBACK failure (0x80) that 3.1.1 defines.
 */
import { readFileSync } from 'node:fs'
import { resolve } from 'node:path'
import { defineHandler, type HookContext } from 'mqttd'
import { verifyPassword } from './auth-file-hash.ts'
import { type AclRules, type AclSubject, mayPublish, maySubscribe } from './lib/topic-acl.ts'

interface AclEntry extends Partial<AclRules> {
  user: string
}

export interface AuthFileOptions {
  /** Path to the password file (relative paths: from the working directory). */
  passwordFile: string
  acl?: AclEntry[]
  /** Let clients without a user name in, with the rules of "*" and `%u` = "". Default false. */
  anonymous?: boolean
}

// v5 reason codes; 3.1.1 has CONNACK 4 / 5 and SUBACK 0x80 for the same refusals.
const BAD_USERNAME_OR_PASSWORD = 0x86
const NOT_AUTHORIZED = 0x87
const SUBACK_FAILURE_V3 = 0x80

/** Parses `user:hash` lines; blank lines and `#` comments are skipped. */
export function parsePasswordFile(text: string): Map<string, string> {
  const users = new Map<string, string>()
  for (const raw of text.split('\n')) {
    const line = raw.trim()
    if (line === '' || line.startsWith('#')) continue
    const colon = line.indexOf(':')
    if (colon <= 0) throw new Error(`password file: expected "user:hash", got "${line.slice(0, 20)}…"`)
    users.set(line.slice(0, colon), line.slice(colon + 1))
  }
  return users
}

/** The rules that apply to `username`: every entry naming the user, plus those of "*". */
export function rulesFor(acl: readonly AclEntry[], username: string): AclRules {
  const entries = acl.filter((e) => e.user === '*' || e.user === username)
  return {
    publish: entries.flatMap((e) => e.publish ?? []),
    subscribe: entries.flatMap((e) => e.subscribe ?? []),
  }
}

interface AuthState {
  subject: AclSubject
  rules: AclRules
}

const kAuth = 'auth-file'

export default defineHandler((options) => {
  const opts = options as unknown as AuthFileOptions
  if (typeof opts.passwordFile !== 'string')
    throw new TypeError('auth-file: options.passwordFile is required')
  const users = parsePasswordFile(readFileSync(resolve(opts.passwordFile), 'utf8'))
  const acl = opts.acl ?? []
  // Verifying a made-up hash for unknown users keeps their refusal as slow as a wrong password,
  // so response time does not tell which user names exist.
  const decoy = 'scrypt$16384$8$1$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA='

  const auth = (ctx: HookContext) => ctx.state[kAuth] as AuthState

  return {
    name: 'auth-file',

    async onConnect(ctx, packet) {
      const username = packet.username
      if (username === undefined) {
        if (!opts.anonymous) return { reasonCode: NOT_AUTHORIZED, reasonString: 'user name required' }
      } else {
        const hash = users.get(username)
        const password = packet.password?.toString('utf8') ?? ''
        const ok = await verifyPassword(password, hash ?? decoy)
        if (!ok || hash === undefined || packet.password === undefined) {
          return { reasonCode: BAD_USERNAME_OR_PASSWORD }
        }
      }
      const name = username ?? ''
      ctx.state[kAuth] = {
        subject: { username: name, clientId: ctx.clientId },
        rules: rulesFor(acl, name),
      } satisfies AuthState
      return undefined
    },

    onConnected(ctx) {
      // A handler may have assigned the client id in onConnect (v5 empty id): use the final one.
      auth(ctx).subject.clientId = ctx.clientId
    },

    onPublish(ctx, packet) {
      const { rules, subject } = auth(ctx)
      if (mayPublish(rules, subject, packet.topic)) return undefined
      ctx.log.info({ topic: packet.topic }, 'auth-file: publish refused')
      // v5 QoS 1/2: PUBACK/PUBREC 0x87. QoS 0 and 3.1.1 cannot say no: the message is dropped
      // and acknowledged as usual [3.1.1 MQTT-3.3.5-2].
      return { reasonCode: NOT_AUTHORIZED }
    },

    onSubscribe(ctx, packet, granted) {
      const { rules, subject } = auth(ctx)
      packet.subscriptions.forEach((sub, i) => {
        if (!maySubscribe(rules, subject, sub.topic)) {
          granted[i] = ctx.protocolVersion === 5 ? NOT_AUTHORIZED : SUBACK_FAILURE_V3
        }
      })
      return undefined
    },
  }
})
