/** Types for stamp.js. */
export const STAMP_BYTES: number
export function stampedPayload(size: number, vu: number, seq: number, now?: number): ArrayBuffer
export function readStamp(payload: ArrayBuffer): { sentMs: number; vu: number; seq: number } | null
