/**
 * One redaction for every place that shows a configuration (the admin API's
 * `/config`, the status page, `--print-config`): secrets never leave the
 * process, whatever section or handler option they sit in.
 */

/** What a redacted value is replaced with. */
export const redacted = '[redacted]'

// Keys whose values are secrets wherever they appear: admin.token, TLS keys and
// passphrases, handler options such as { password, apiKey, clientSecret }.
const secretKey =
  /^(?:key|pfx|passphrase|token|secret|password|passwd|pass|credentials?|authorization|cookie)$|token$|secret$|password$|passphrase$|private|apikey|api_key|accesskey|access_key/i

const privateKeyPem = /-----BEGIN [A-Z ]*PRIVATE KEY-----/
// scheme://user:password@host: keep the user, hide the password
const urlPassword = /^([a-z][a-z0-9+.-]*:\/\/[^:/?#@\s]*):[^@/?#\s]*@/i

/** Whether a config key names a secret (its value is then always redacted). */
export function isSecretKey(key: string): boolean {
  return secretKey.test(key)
}

function redactString(value: string): string {
  if (privateKeyPem.test(value)) return redacted
  return value.replace(urlPassword, `$1:${redacted}@`)
}

/**
 * A deep copy of `config` with secrets replaced by `[redacted]`: values under
 * secret-looking keys (at any depth, in arrays too), inline PEM private keys,
 * and passwords in URLs. An unset optional secret stays absent, so the output
 * still shows whether one is configured.
 */
export function redactConfig<T>(config: T): T {
  return redactValue(config) as T
}

function redactValue(value: unknown, key?: string): unknown {
  if (value === undefined || value === null) return value
  if (key !== undefined && isSecretKey(key)) return redacted
  if (typeof value === 'string') return redactString(value)
  if (Array.isArray(value)) return value.map((v) => redactValue(v))
  if (typeof value === 'object') {
    const out: Record<string, unknown> = {}
    for (const [k, v] of Object.entries(value)) out[k] = redactValue(v, k)
    return out
  }
  return value
}
