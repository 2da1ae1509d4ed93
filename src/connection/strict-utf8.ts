import { isUtf8 } from 'node:buffer'

/**
 * The string encoded in `b[start, end)`, or null when those bytes are not a
 * valid MQTT UTF-8 string: not well-formed UTF-8 (a stray continuation byte, a
 * truncated sequence, a surrogate, an overlong form), or holding U+0000.
 * `Buffer#toString` would turn ill-formed bytes into U+FFFD, so `cid\xff` and
 * `cid\xfe` would both become `cid\ufffd`: one client id, one session.
 * [3.1.1 MQTT-1.5.3-1] [5.0 MQTT-1.5.4-1] ill-formed UTF-8 and
 * [3.1.1 MQTT-1.5.3-2] [5.0 MQTT-1.5.4-2] U+0000: such a packet closes the
 * connection. ASCII (the common case) is checked by a byte loop, one unsigned
 * compare a byte (0x00 wraps around to the top); anything else by Node's
 * native validator. In well-formed UTF-8 a 0x00 byte is only ever U+0000.
 */
export function strictString(b: Buffer, start: number, end: number): string | null {
  for (let i = start; i < end; i++) {
    if ((b[i]! - 1) >>> 0 >= 0x7f)
      return wellFormedFrom(b, start, i, end) ? b.toString('utf8', start, end) : null
  }
  return b.toString('utf8', start, end)
}

/** Whether `b[start, end)` is a valid MQTT UTF-8 string (see {@link strictString}), without building it. */
export function wellFormed(b: Buffer, start: number, end: number): boolean {
  for (let i = start; i < end; i++) {
    if ((b[i]! - 1) >>> 0 >= 0x7f) return wellFormedFrom(b, start, i, end)
  }
  return true
}

/** The slow half: `b[start, i)` is ASCII without 0x00, `b[i]` is 0x00 or above 0x7f. */
function wellFormedFrom(b: Buffer, start: number, i: number, end: number): boolean {
  for (let k = i; k < end; k++) if (b[k] === 0) return false
  return isUtf8(b.subarray(start, end))
}
