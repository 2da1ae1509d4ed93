/**
 * The authentication data one worker thread checks against: the parsed
 * password and ACL files and whether anonymous clients may connect. The
 * built-in auth handler reads it on every check, so a reload (SIGHUP,
 * `POST /reload`) that replaces it applies to the next CONNECT, PUBLISH,
 * SUBSCRIBE and delivery without touching a connected client.
 */
import { readFileSync } from 'node:fs'
import type { AuthSettings } from '../control/protocol.ts'
import { mqttdError } from '../errors.ts'
import { type AclRules, parseAclFile } from './acl-file.ts'
import { parsePasswordFile } from './password-file.ts'
import type { PasswordHash } from './password-hash.ts'

export type { AuthSettings }

export interface AuthData {
  allowAnonymous: boolean
  /** null: no password file, usernames are not verified (as in mosquitto). */
  passwords: ReadonlyMap<string, PasswordHash> | null
  /** null: no ACL file, every topic allowed. */
  acl: AclRules | null
}

function readText(what: string, file: string): string {
  try {
    return readFileSync(file, 'utf8')
  } catch (err) {
    throw mqttdError('MQTTD_ERR_AUTH_FILE', what, file, (err as Error).message)
  }
}

/**
 * Reads (unless the text is given) and parses the files of `settings`.
 * @throws MQTTD_ERR_AUTH_FILE naming the file and the line
 */
export function loadAuthData(settings: AuthSettings): AuthData {
  let passwords: AuthData['passwords'] = null
  let acl: AuthData['acl'] = null
  if (settings.passwordFile !== null) {
    const text = settings.passwordText ?? readText('password file', settings.passwordFile)
    try {
      passwords = parsePasswordFile(text)
    } catch (err) {
      throw mqttdError('MQTTD_ERR_AUTH_FILE', 'password file', settings.passwordFile, (err as Error).message)
    }
  }
  if (settings.aclFile !== null) {
    const text = settings.aclText ?? readText('ACL file', settings.aclFile)
    try {
      acl = parseAclFile(text)
    } catch (err) {
      throw mqttdError('MQTTD_ERR_AUTH_FILE', 'ACL file', settings.aclFile, (err as Error).message)
    }
  }
  return { allowAnonymous: settings.allowAnonymous, passwords, acl }
}

/** Reads both files into `settings` (main thread), so the workers apply exactly what was validated. */
export function withFileTexts(settings: AuthSettings): AuthSettings {
  const out = { ...settings }
  if (out.passwordFile !== null) out.passwordText = readText('password file', out.passwordFile)
  if (out.aclFile !== null) out.aclText = readText('ACL file', out.aclFile)
  loadAuthData(out)
  return out
}

let current: AuthData | undefined

/** This worker's current auth data (undefined before the auth handler's first load). */
export function currentAuth(): AuthData | undefined {
  return current
}

/** Replaces this worker's auth data (from the handler's init, or a reload). */
export function setAuth(data: AuthData): void {
  current = data
}
