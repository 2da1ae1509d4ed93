import { isUtf8 } from 'node:buffer'

/**
 * The string encoded in `b[start, end)`, or null when those bytes are not
 * well-formed UTF-8 (a stray continuation byte, a truncated sequence, a
 * surrogate, an overlong form). `Buffer#toString` would turn them into
 * U+FFFD, so `cid\xff` and `cid\xfe` would both become `cid\ufffd`: one
 * client id, one session. [3.1.1 MQTT-1.5.3-1] [5.0 MQTT-1.5.4-1]: such a
 * packet closes the connection. ASCII (the common case) is checked by a byte
 * loop; anything else by Node's native validator.
 */
export function strictString(b: Buffer, start: number, end: number): string | null {
  for (let i = start; i < end; i++) {
    if (b[i]! > 0x7f) return isUtf8(b.subarray(start, end)) ? b.toString('utf8', start, end) : null
  }
  return b.toString('utf8', start, end)
}

/** Whether `b[start, end)` is well-formed UTF-8 (see {@link strictString}), without building the string. */
export function wellFormed(b: Buffer, start: number, end: number): boolean {
  for (let i = start; i < end; i++) {
    if (b[i]! > 0x7f) return isUtf8(b.subarray(start, end))
  }
  return true
}
