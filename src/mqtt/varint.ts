/**
 * MQTT's Variable Byte Integer (remaining length, property length,
 * subscription identifiers): 7 bits a byte, at most 4 bytes (MQTT 5, 1.5.5).
 */

/** Bytes the Variable Byte Integer encoding of `n` (0..268 435 455) takes. */
export function varintSize(n: number): number {
  return n < 128 ? 1 : n < 16_384 ? 2 : n < 2_097_152 ? 3 : 4
}
