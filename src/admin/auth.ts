/**
 * Bearer-token check for the admin API. Both sides are hashed first so
 * `timingSafeEqual` always compares equal-length buffers: the time taken
 * reveals neither the token's content nor its length.
 */
import { createHash, timingSafeEqual } from 'node:crypto'

function digest(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest()
}

/** Returns a checker of `Authorization` header values against `token`. */
export function bearerChecker(token: string): (authorization: string | undefined) => boolean {
  const expected = digest(token)
  return (authorization) => {
    const match = typeof authorization === 'string' ? /^Bearer +(\S+) *$/i.exec(authorization) : null
    // Compare even when the header is malformed, so that path costs the same.
    const equal = timingSafeEqual(digest(match?.[1] ?? ''), expected)
    return match !== null && equal
  }
}
