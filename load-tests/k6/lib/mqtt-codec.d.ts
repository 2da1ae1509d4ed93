/** Types for mqtt-codec.js (plain JS so k6 can load it as is). */

/** An mqtt-packet style packet object; fields depend on `cmd`. */
export interface CodecPacket {
  cmd: string
  [field: string]: unknown
}

export const MAX_REMAINING_LENGTH: number
export function utf8Encode(str: string): Uint8Array
export function utf8Decode(bytes: Uint8Array, start?: number, end?: number): string
export function varintBytes(value: number): number[]
export function encode(packet: CodecPacket, protocolVersion?: number): Uint8Array
export function readFixedHeader(
  bytes: Uint8Array,
  offset?: number,
): { type: number; flags: number; headerLength: number; length: number } | null
export function decode(
  bytes: Uint8Array,
  protocolVersion?: number,
  offset?: number,
): { packet: CodecPacket; size: number } | null
export class PacketReader {
  constructor(protocolVersion?: number)
  protocolVersion: number
  push(chunk: Uint8Array | ArrayBuffer): CodecPacket[]
}
export function toArrayBuffer(bytes: Uint8Array): ArrayBuffer
