/**
 * Message payloads that carry their send time, so the receiver measures
 * end-to-end latency without a shared clock service (both ends run in the
 * same k6 process). Layout: [0..8) Date.now() as float64 LE, [8..12) VU,
 * [12..16) sequence number, then filler up to `size` bytes.
 */

export const STAMP_BYTES = 16

/** @returns {ArrayBuffer} */
export function stampedPayload(size, vu, seq, now = Date.now()) {
  const buf = new ArrayBuffer(Math.max(STAMP_BYTES, size))
  const view = new DataView(buf)
  view.setFloat64(0, now, true)
  view.setUint32(8, vu, true)
  view.setUint32(12, seq, true)
  return buf
}

/** @param {ArrayBuffer} payload */
export function readStamp(payload) {
  if (payload.byteLength < STAMP_BYTES) return null
  const view = new DataView(payload)
  return { sentMs: view.getFloat64(0, true), vu: view.getUint32(8, true), seq: view.getUint32(12, true) }
}
