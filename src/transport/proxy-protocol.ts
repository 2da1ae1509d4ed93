/**
 * The PROXY protocol header a load balancer (HAProxy `send-proxy` /
 * `send-proxy-v2`, AWS NLB, nginx `proxy_protocol`) writes before the
 * client's first byte, carrying the client's address. Both versions of
 * haproxy's proxy-protocol.txt:
 *
 * - v1, text: `PROXY TCP4|TCP6 <src> <dst> <sport> <dport>\r\n` or
 *   `PROXY UNKNOWN ...\r\n`, at most 107 bytes with the CRLF;
 * - v2, binary: a 12-byte signature, version/command, family/transport, a
 *   16-bit length, the addresses, then TLVs (skipped here).
 *
 * The parser is incremental because the header may arrive split over TCP
 * segments, and it decides as early as it can: bytes that cannot begin a
 * header are refused at once, without waiting for more. It is pure (no I/O),
 * so the socket side (`proxy-header-reader.ts`) stays small.
 *
 * proxy-protocol-js (npm) parses a complete buffer only, reads v2 addresses
 * without honouring the length field and throws non-Error objects, so the
 * framing would have to be written here anyway; the format is small.
 */
import { isIPv4, isIPv6 } from 'node:net'

/** The client address a header carried; `null` for v1 UNKNOWN and v2 LOCAL or non-IP families. */
export interface ProxyAddress {
  address: string
  port: number
  family: 'IPv4' | 'IPv6'
}

/** A complete header: its version, the client address if any, and the bytes after it. */
export interface ProxyHeader {
  version: 1 | 2
  /** The original client; null when the connection's own peer address stands (health checks, UNKNOWN). */
  source: ProxyAddress | null
  /** Bytes that followed the header in the same read: the client's first bytes. */
  rest: Buffer
}

/** v1 is at most 107 bytes, CRLF included (proxy-protocol.txt 2.1). */
export const maxV1Length = 107
const v1Prefix = Buffer.from('PROXY ', 'latin1')
const v2Signature = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a])
const v2FixedLength = 16

/** Why a header was refused: the text of the log line and of `MQTTD_ERR_PROXY_HEADER`. */
export class ProxyHeaderError extends Error {
  override name = 'ProxyHeaderError'
}

/** Whether `bytes` can still be the start of `expected` (compared over the shorter length). */
function startsLike(bytes: Buffer, expected: Buffer): boolean {
  const n = Math.min(bytes.length, expected.length)
  return bytes.subarray(0, n).equals(expected.subarray(0, n))
}

/**
 * Parses a header from the bytes received so far.
 * @returns the header when complete, `null` when more bytes are needed
 * @throws {ProxyHeaderError} when the bytes are not, and cannot become, a valid header
 */
export function parseProxyHeader(bytes: Buffer): ProxyHeader | null {
  if (bytes.length === 0) return null
  if (startsLike(bytes, v1Prefix)) return parseV1(bytes)
  if (startsLike(bytes, v2Signature)) return parseV2(bytes)
  throw new ProxyHeaderError(`no PROXY protocol signature (first bytes ${hexStart(bytes)})`)
}

function hexStart(bytes: Buffer): string {
  return bytes.subarray(0, 8).toString('hex')
}

function parseV1(bytes: Buffer): ProxyHeader | null {
  const end = bytes.indexOf('\r\n', 0, 'latin1')
  if (end === -1) {
    // a lone CR at the last allowed position may still be followed by LF
    if (bytes.length >= maxV1Length) throw new ProxyHeaderError(`v1 header longer than ${maxV1Length} bytes`)
    return null
  }
  if (end + 2 > maxV1Length) throw new ProxyHeaderError(`v1 header longer than ${maxV1Length} bytes`)
  const line = bytes.toString('latin1', v1Prefix.length, end)
  const rest = bytes.subarray(end + 2)
  const fields = line.split(' ')
  const protocol = fields[0]
  // UNKNOWN: the rest of the line is ignored and the connection's own address stands (2.1)
  if (protocol === 'UNKNOWN') return { version: 1, source: null, rest }
  if (protocol !== 'TCP4' && protocol !== 'TCP6')
    throw new ProxyHeaderError(`v1 protocol ${JSON.stringify(protocol)} is not TCP4, TCP6 or UNKNOWN`)
  if (fields.length !== 5) throw new ProxyHeaderError('v1 header needs exactly 4 fields after the protocol')
  const [, src, dst, sport, dport] = fields as [string, string, string, string, string]
  const valid = protocol === 'TCP4' ? isIPv4 : isIPv6
  if (!valid(src) || !valid(dst)) throw new ProxyHeaderError(`v1 ${protocol} addresses are not valid`)
  const port = v1Port(sport)
  v1Port(dport)
  return { version: 1, source: { address: src, port, family: protocol === 'TCP4' ? 'IPv4' : 'IPv6' }, rest }
}

function v1Port(text: string): number {
  if (!/^\d{1,5}$/.test(text) || Number(text) > 65535)
    throw new ProxyHeaderError(`v1 port ${JSON.stringify(text)} is not 0..65535`)
  return Number(text)
}

function parseV2(bytes: Buffer): ProxyHeader | null {
  if (bytes.length < v2FixedLength) return null
  const versionCommand = bytes[12]!
  if (versionCommand >> 4 !== 2) throw new ProxyHeaderError(`v2 version ${versionCommand >> 4} is not 2`)
  const command = versionCommand & 0x0f
  if (command > 1) throw new ProxyHeaderError(`v2 command ${command} is neither LOCAL (0) nor PROXY (1)`)
  const familyTransport = bytes[13]!
  const length = bytes.readUInt16BE(14)
  const total = v2FixedLength + length
  if (bytes.length < total) return null
  const rest = bytes.subarray(total)
  // LOCAL: the proxy's own connection (a health check); its address block is ignored (2.2)
  if (command === 0) return { version: 2, source: null, rest }
  const family = familyTransport >> 4
  const block = bytes.subarray(v2FixedLength, total)
  if (family === 1) {
    if (length < 12) throw new ProxyHeaderError(`v2 AF_INET address block of ${length} bytes (needs 12)`)
    const address = `${block[0]}.${block[1]}.${block[2]}.${block[3]}`
    return { version: 2, source: { address, port: block.readUInt16BE(8), family: 'IPv4' }, rest }
  }
  if (family === 2) {
    if (length < 36) throw new ProxyHeaderError(`v2 AF_INET6 address block of ${length} bytes (needs 36)`)
    return {
      version: 2,
      source: { address: ipv6Text(block.subarray(0, 16)), port: block.readUInt16BE(32), family: 'IPv6' },
      rest,
    }
  }
  if (family > 3) throw new ProxyHeaderError(`v2 address family ${family} is unknown`)
  // AF_UNSPEC or AF_UNIX: no IP address to use; the connection's own stands (2.2)
  return { version: 2, source: null, rest }
}

/** RFC 5952 text of a 16-byte IPv6 address (`::ffff:a.b.c.d` for IPv4-mapped), as Node reports peers. */
function ipv6Text(raw: Buffer): string {
  const groups: number[] = []
  for (let i = 0; i < 16; i += 2) groups.push(raw.readUInt16BE(i))
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff)
    return `::ffff:${raw[12]}.${raw[13]}.${raw[14]}.${raw[15]}`
  // the longest run of two or more zero groups becomes `::` (the first, on a tie)
  let bestStart = -1
  let bestLength = 1
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++
      continue
    }
    let j = i
    while (j < 8 && groups[j] === 0) j++
    if (j - i > bestLength) {
      bestStart = i
      bestLength = j - i
    }
    i = j
  }
  const hex = groups.map((g) => g.toString(16))
  if (bestStart === -1) return hex.join(':')
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLength).join(':')}`
}
