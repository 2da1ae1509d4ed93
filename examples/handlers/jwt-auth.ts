/**
 * Example handler: JSON Web Token authentication with `jose`. A client presents its token as
 * the CONNECT password (v3.1.1 and v5), or through MQTT 5 enhanced authentication with method
 * `JWT` (token as Authentication Data, in CONNECT or in the AUTH step the server asks for).
 * The claims decide what the connection may do, and the connection ends when the token
 * expires unless a v5 client re-authenticates (AUTH 0x19) with a fresh one.
 *
 *   handlers:
 *     - module: ./handlers/jwt-auth.ts
 *       options:
 *         secret: "…"                 # HS256 shared secret, or:
 *         publicKeyFile: rs256.pem     # RS256 public key (SPKI PEM), or:
 *         jwksFile: jwks.json          # a JWK Set ({ "keys": [...] }); key chosen by `kid`
 *         issuer: https://auth.example  # optional checks
 *         audience: mqttd
 *
 * With the token as password, send the token's subject as user name (clients built on
 * mqtt-packet, mqtt.js included, cannot send a password alone); another user name is refused.
 *
 * Claims: `sub` (the user; `%u` in rules), `exp` (required), and
 * `mqtt: { publish: [filters], subscribe: [filters] }` (`%u`, `%c` substituted).
 */
import { readFileSync } from 'node:fs'
import { resolve } from 'node:path'
import {
  createLocalJWKSet,
  importSPKI,
  type JWTPayload,
  type JWTVerifyGetKey,
  jwtVerify,
  type KeyObject,
} from 'jose'
import { defineHandler, type HookContext } from 'mqttd'
import { type AclRules, mayPublish, maySubscribe } from './lib/topic-acl.ts'

export interface JwtAuthOptions {
  secret?: string
  publicKeyFile?: string
  jwksFile?: string
  issuer?: string
  audience?: string
  /** Seconds of clock skew tolerated on exp/nbf. Default 5. */
  clockToleranceSec?: number
}

/** What this handler keeps on `ctx.state['jwt-auth']`. */
export interface JwtState {
  subject: string
  rules: AclRules
  expiresAt: number
  timer: NodeJS.Timeout | undefined
}

const METHOD = 'JWT'
const BAD_USERNAME_OR_PASSWORD = 0x86
const NOT_AUTHORIZED = 0x87
const BAD_AUTHENTICATION_METHOD = 0x8c
const REAUTHENTICATE = 0x19
// "The maximum connection time authorized for this connection has been exceeded."
const MAXIMUM_CONNECT_TIME = 0xa0
const kJwt = 'jwt-auth'
// setTimeout holds at most 2^31-1 ms; longer lifetimes are re-armed.
const MAX_TIMER_MS = 2 ** 31 - 1

function stringList(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : []
}

/** The topic rules a token grants. */
export function rulesFromClaims(payload: JWTPayload): AclRules {
  const mqtt = (payload.mqtt ?? {}) as Record<string, unknown>
  return { publish: stringList(mqtt.publish), subscribe: stringList(mqtt.subscribe) }
}

async function loadKey(opts: JwtAuthOptions): Promise<Uint8Array | KeyObject | CryptoKey | JWTVerifyGetKey> {
  if (opts.jwksFile) return createLocalJWKSet(JSON.parse(readFileSync(resolve(opts.jwksFile), 'utf8')))
  if (opts.publicKeyFile) return importSPKI(readFileSync(resolve(opts.publicKeyFile), 'utf8'), 'RS256')
  if (opts.secret) return new TextEncoder().encode(opts.secret)
  throw new TypeError('jwt-auth: set one of options.secret, options.publicKeyFile, options.jwksFile')
}

export default defineHandler(async (options) => {
  const opts = options as JwtAuthOptions
  const key = await loadKey(opts)
  const algorithms = opts.secret && !opts.publicKeyFile && !opts.jwksFile ? ['HS256'] : ['RS256']

  /** Verifies a token: the payload, or null when it is not acceptable. */
  async function verify(ctx: HookContext, token: string): Promise<JWTPayload | null> {
    try {
      const checks = {
        algorithms,
        requiredClaims: ['exp', 'sub'],
        clockTolerance: opts.clockToleranceSec ?? 5,
        ...(opts.issuer === undefined ? {} : { issuer: opts.issuer }),
        ...(opts.audience === undefined ? {} : { audience: opts.audience }),
      }
      const { payload } =
        typeof key === 'function' ? await jwtVerify(token, key, checks) : await jwtVerify(token, key, checks)
      return payload
    } catch (err) {
      ctx.log.info({ reason: (err as Error).message }, 'jwt-auth: token refused')
      return null
    }
  }

  /** Stores the claims; `connected` (re-authentication) re-arms the expiry timer at once. */
  function accept(ctx: HookContext, payload: JWTPayload, connected: boolean): void {
    clearTimeout((ctx.state[kJwt] as JwtState | undefined)?.timer)
    ctx.state[kJwt] = {
      subject: payload.sub!,
      rules: rulesFromClaims(payload),
      expiresAt: payload.exp! * 1000,
      timer: undefined,
    } satisfies JwtState
    if (connected) arm(ctx)
  }

  /** Ends the connection when the token expires. */
  function arm(ctx: HookContext): void {
    const state = jwt(ctx)
    clearTimeout(state.timer)
    const left = state.expiresAt - Date.now()
    if (left <= 0) {
      ctx.close(MAXIMUM_CONNECT_TIME, 'token expired', 'closed-by-handler')
      return
    }
    state.timer = setTimeout(() => arm(ctx), Math.min(left, MAX_TIMER_MS))
  }

  const jwt = (ctx: HookContext) => ctx.state[kJwt] as JwtState
  const subject = (ctx: HookContext) => ({ username: jwt(ctx).subject, clientId: ctx.clientId })

  return {
    name: 'jwt-auth',

    async onConnect(ctx, packet) {
      const method = packet.properties?.authenticationMethod
      if (method !== undefined && method !== METHOD) return { reasonCode: BAD_AUTHENTICATION_METHOD }
      if (method === METHOD) {
        ctx.connack.properties.authenticationMethod = METHOD
        const data = packet.properties?.authenticationData
        // No token in CONNECT: ask for it with AUTH 0x18 (continue authentication).
        if (data === undefined || data.length === 0) return { continueAuth: { authenticationMethod: METHOD } }
        const payload = await verify(ctx, data.toString('utf8'))
        if (!payload) return { reasonCode: NOT_AUTHORIZED }
        accept(ctx, payload, false)
        return undefined
      }
      if (packet.password === undefined) return { reasonCode: BAD_USERNAME_OR_PASSWORD }
      const payload = await verify(ctx, packet.password.toString('utf8'))
      if (!payload) return { reasonCode: BAD_USERNAME_OR_PASSWORD }
      // A user name, when given, must be the token's subject.
      if (packet.username !== undefined && packet.username !== '' && packet.username !== payload.sub) {
        return { reasonCode: NOT_AUTHORIZED }
      }
      accept(ctx, payload, false)
      return undefined
    },

    async onAuth(ctx, packet) {
      if (packet.properties?.authenticationMethod !== METHOD) return { reasonCode: BAD_AUTHENTICATION_METHOD }
      const data = packet.properties.authenticationData
      const payload = data === undefined ? null : await verify(ctx, data.toString('utf8'))
      if (!payload) return { reasonCode: NOT_AUTHORIZED }
      // Re-authentication must keep the identity the connection was accepted with.
      if (packet.reasonCode === REAUTHENTICATE && payload.sub !== jwt(ctx)?.subject) {
        return { reasonCode: NOT_AUTHORIZED }
      }
      accept(ctx, payload, packet.reasonCode === REAUTHENTICATE)
      return undefined
    },

    onConnected(ctx) {
      arm(ctx)
    },

    onPublish(ctx, packet) {
      if (mayPublish(jwt(ctx).rules, subject(ctx), packet.topic)) return undefined
      return { reasonCode: NOT_AUTHORIZED }
    },

    onSubscribe(ctx, packet, granted) {
      packet.subscriptions.forEach((sub, i) => {
        if (!maySubscribe(jwt(ctx).rules, subject(ctx), sub.topic)) {
          granted[i] = ctx.protocolVersion === 5 ? NOT_AUTHORIZED : 0x80
        }
      })
      return undefined
    },

    onClose(ctx) {
      clearTimeout((ctx.state[kJwt] as JwtState | undefined)?.timer)
    },
  }
})
