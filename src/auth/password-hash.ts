/**
 * mosquitto's password hashes, as `mosquitto_passwd` writes them
 * (libcommon/password_common.c in eclipse-mosquitto):
 *
 * - `$6$<salt>$<hash>`: SHA-512 over the password bytes followed by the salt bytes;
 * - `$7$<iterations>$<salt>$<hash>`: PBKDF2-HMAC-SHA512 with the salt bytes.
 *
 * Salt and hash are standard base64 (with padding); the salt is 12 bytes
 * (mosquitto 2.0) or 64 bytes (2.1), the hash always 64 bytes. Anything else
 * is refused as mosquitto refuses it.
 */
import { createHash, pbkdf2, randomBytes, timingSafeEqual } from 'node:crypto'
import { promisify } from 'node:util'

const pbkdf2Async = promisify(pbkdf2)

const HASH_LEN = 64
/** mosquitto 2.1's default; 2.0 wrote 101. */
export const DEFAULT_ITERATIONS = 1000
/** 12 bytes: the salt length mosquitto 2.0 (Debian 12) accepts along with 64. */
const SALT_LEN = 12

/** A decoded password entry. */
export type PasswordHash =
  | { type: 'sha512'; salt: Buffer; hash: Buffer }
  | { type: 'pbkdf2-sha512'; iterations: number; salt: Buffer; hash: Buffer }

const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/

function decode64(text: string | undefined): Buffer | undefined {
  if (text === undefined || !BASE64.test(text) || text.length % 4 !== 0) return undefined
  return Buffer.from(text, 'base64')
}

/**
 * Decodes `$6$…` or `$7$…`; returns a reason when it is not one mosquitto accepts.
 * (`$argon2id$`, which mosquitto 2.1 can write when built with libargon2, is not supported.)
 */
export function decodePasswordHash(encoded: string): PasswordHash | { error: string } {
  const parts = encoded.split('$')
  // '', '6', salt, hash  |  '', '7', iterations, salt, hash
  if (parts[0] !== '' || (parts[1] !== '6' && parts[1] !== '7')) {
    return { error: 'not a $6$ or $7$ hash (create it with mosquitto_passwd or `mqttd passwd`)' }
  }
  const pbkdf = parts[1] === '7'
  if (parts.length !== (pbkdf ? 5 : 4)) return { error: `malformed $${parts[1]}$ hash` }
  let iterations = 0
  if (pbkdf) {
    iterations = /^\d{1,9}$/.test(parts[2]!) ? Number(parts[2]) : 0
    if (iterations < 1) return { error: 'iterations must be a positive number' }
  }
  const salt = decode64(parts[pbkdf ? 3 : 2])
  if (salt === undefined || (salt.length !== SALT_LEN && salt.length !== HASH_LEN)) {
    return { error: 'the salt must be 12 or 64 bytes of base64' }
  }
  const hash = decode64(parts[pbkdf ? 4 : 3])
  if (hash === undefined || hash.length !== HASH_LEN) return { error: 'the hash must be 64 bytes of base64' }
  return pbkdf ? { type: 'pbkdf2-sha512', iterations, salt, hash } : { type: 'sha512', salt, hash }
}

async function digest(password: Buffer, entry: PasswordHash): Promise<Buffer> {
  if (entry.type === 'sha512') return createHash('sha512').update(password).update(entry.salt).digest()
  // the thread pool, not the worker's event loop: other connections keep being served meanwhile
  return pbkdf2Async(password, entry.salt, entry.iterations, HASH_LEN, 'sha512')
}

/** Whether `password` matches `entry`; compares in constant time. */
export async function verifyPassword(password: Buffer, entry: PasswordHash): Promise<boolean> {
  return timingSafeEqual(await digest(password, entry), entry.hash)
}

/** Encodes a new `$7$` entry (PBKDF2-SHA512) for `password`, with a random salt. */
export async function hashPassword(password: string, iterations = DEFAULT_ITERATIONS): Promise<string> {
  const salt = randomBytes(SALT_LEN)
  const hash = await pbkdf2Async(Buffer.from(password, 'utf8'), salt, iterations, HASH_LEN, 'sha512')
  return `$7$${iterations}$${salt.toString('base64')}$${hash.toString('base64')}`
}

/** Encodes a `$6$` entry (salted SHA-512), the format of `mosquitto_passwd -H sha512`. */
export function hashPasswordSha512(password: string): string {
  const salt = randomBytes(SALT_LEN)
  const hash = createHash('sha512').update(password, 'utf8').update(salt).digest()
  return `$6$${salt.toString('base64')}$${hash.toString('base64')}`
}
