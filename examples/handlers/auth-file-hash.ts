/**
 * Password hashes for the auth-file example: `scrypt$N$r$p$salt$hash` (salt and hash in
 * base64), one `username:hash` line per user.
 *
 * CLI: prints a password-file line; the password comes from stdin so it stays out of the
 * shell history and `ps`.
 *   printf '%s' 's3cret' | node examples/handlers/auth-file-hash.ts alice >> passwords.txt
 */
import { randomBytes, scrypt, timingSafeEqual } from 'node:crypto'
import { text } from 'node:stream/consumers'
import { fileURLToPath } from 'node:url'

export interface ScryptParams {
  /** CPU/memory cost, a power of two. */
  N: number
  r: number
  p: number
}

/** Node's defaults: 16 MiB of memory and a few tens of ms per hash. */
export const defaultParams: ScryptParams = { N: 16384, r: 8, p: 1 }
const keyLength = 32

function derive(password: string, salt: Buffer, params: ScryptParams, length: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scrypt(password, salt, length, { ...params, maxmem: 256 * params.N * params.r }, (err, key) =>
      err ? reject(err) : resolve(key),
    )
  })
}

/** Hashes a password with a fresh random salt. */
export async function hashPassword(password: string, params: ScryptParams = defaultParams): Promise<string> {
  const salt = randomBytes(16)
  const hash = await derive(password, salt, params, keyLength)
  return `scrypt$${params.N}$${params.r}$${params.p}$${salt.toString('base64')}$${hash.toString('base64')}`
}

/** Checks a password against a hash from {@link hashPassword}, in constant time. */
export async function verifyPassword(password: string, encoded: string): Promise<boolean> {
  const [scheme, N, r, p, salt, hash] = encoded.split('$')
  if (scheme !== 'scrypt' || hash === undefined) return false
  const expected = Buffer.from(hash, 'base64')
  const params = { N: Number(N), r: Number(r), p: Number(p) }
  const actual = await derive(password, Buffer.from(salt!, 'base64'), params, expected.length)
  return timingSafeEqual(actual, expected)
}

/** A `username:hash` line for the password file. */
export async function passwordLine(username: string, password: string): Promise<string> {
  if (username.includes(':') || username === '')
    throw new TypeError('username must be non-empty, without ":"')
  return `${username}:${await hashPassword(password)}`
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const username = process.argv[2]
  if (!username) {
    process.stderr.write('usage: printf %s PASSWORD | node auth-file-hash.ts USERNAME\n')
    process.exit(2)
  }
  const password = (await text(process.stdin)).replace(/\r?\n$/, '')
  process.stdout.write(`${await passwordLine(username, password)}\n`)
}
