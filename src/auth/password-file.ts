/**
 * mosquitto's `password_file`: one `username:hash` line per user, `#`
 * comments, blank lines and lines without `:` skipped, blanks around the
 * username and hash trimmed, a duplicate user an error
 * (plugins/password-file in eclipse-mosquitto).
 */
import { decodePasswordHash, type PasswordHash } from './password-hash.ts'

/** Parses password file text; throws an Error naming the line of the first problem. */
export function parsePasswordFile(text: string): Map<string, PasswordHash> {
  const users = new Map<string, PasswordHash>()
  const lines = text.split(/\r?\n/)
  for (let n = 0; n < lines.length; n++) {
    const line = lines[n]!
    if (line.startsWith('#') || !line.includes(':')) continue
    const colon = line.indexOf(':')
    const username = line.slice(0, colon).trim()
    const at = `line ${n + 1}`
    if (username === '') throw new Error(`${at}: empty username`)
    if (users.has(username)) throw new Error(`${at}: duplicate user "${username}"`)
    // like strtok(":"): the hash ends at the next colon
    const encoded = line
      .slice(colon + 1)
      .split(':')[0]!
      .trim()
    if (encoded === '') throw new Error(`${at}: no password hash for "${username}"`)
    const hash = decodePasswordHash(encoded)
    if ('error' in hash) throw new Error(`${at}: user "${username}": ${hash.error}`)
    users.set(username, hash)
  }
  return users
}

/**
 * Returns the file text with `username`'s line set to `encoded` (added at the
 * end when new); other lines, comments included, stay as they were.
 */
export function setPasswordLine(text: string, username: string, encoded: string): string {
  const lines = text === '' ? [] : text.replace(/\r?\n$/, '').split(/\r?\n/)
  let found = false
  const out = lines.map((line) => {
    if (line.startsWith('#') || !line.includes(':')) return line
    if (line.slice(0, line.indexOf(':')).trim() !== username) return line
    found = true
    return `${username}:${encoded}`
  })
  if (!found) out.push(`${username}:${encoded}`)
  return `${out.join('\n')}\n`
}
