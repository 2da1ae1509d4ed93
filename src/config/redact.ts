/**
 * `--print-config` output without secrets: the admin token and any key that
 * names a password, token, secret or private key, at any depth (handler and
 * broker options included), is replaced with a marker.
 */

const secretKey = /(password|passwd|token|secret|private.?key|^key$|credential|apikey|api_key)/i

/** A copy of `value` with secret-looking keys' values replaced by `[redacted]`. */
export function redactSecrets(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(redactSecrets)
  if (typeof value !== 'object' || value === null) return value
  const out: Record<string, unknown> = {}
  for (const [key, v] of Object.entries(value)) {
    // file paths are not secrets: passwordFile, key (a PEM path) stay
    const isPath = /file$/i.test(key) || (key === 'key' && typeof v === 'string')
    // only text is a secret: allowNoToken: true is a setting
    out[key] = secretKey.test(key) && !isPath && typeof v === 'string' ? '[redacted]' : redactSecrets(v)
  }
  return out
}
