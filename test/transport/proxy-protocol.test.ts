// The PROXY protocol header parser (haproxy's proxy-protocol.txt), byte by byte: both versions,
// every address family the parser reads, headers split across reads, and what it refuses.
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { maxV1Length, ProxyHeaderError, parseProxyHeader } from '../../src/transport/proxy-protocol.ts'

const v2Signature = [0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]
const mqttConnect = Buffer.from([
  0x10, 0x0c, 0x00, 0x04, 0x4d, 0x51, 0x54, 0x54, 0x04, 0x02, 0x00, 0x3c, 0, 0,
])

/** Feeds `bytes` one byte at a time, as the slowest network would: null until the last byte. */
function parseByteByByte(bytes: Buffer) {
  for (let n = 1; n < bytes.length; n++) {
    assert.equal(
      parseProxyHeader(bytes.subarray(0, n)),
      null,
      `incomplete after ${n} of ${bytes.length} bytes`,
    )
  }
  return parseProxyHeader(bytes)
}

describe('v1 (text)', () => {
  test('TCP4: the source address and port; the bytes after the CRLF are the client’s', () => {
    const header = Buffer.from('PROXY TCP4 203.0.113.7 192.0.2.1 51234 1883\r\n', 'latin1')
    const parsed = parseProxyHeader(Buffer.concat([header, mqttConnect]))
    assert.deepEqual(parsed, {
      version: 1,
      source: { address: '203.0.113.7', port: 51234, family: 'IPv4' },
      rest: mqttConnect,
    })
  })

  test('TCP6', () => {
    const parsed = parseProxyHeader(
      Buffer.from('PROXY TCP6 2001:db8::7 2001:db8::1 65535 8883\r\n', 'latin1'),
    )
    assert.deepEqual(parsed?.source, { address: '2001:db8::7', port: 65535, family: 'IPv6' })
    assert.equal(parsed?.rest.length, 0)
  })

  test('UNKNOWN keeps the connection’s own address, whatever follows on the line', () => {
    const parsed = parseProxyHeader(Buffer.from('PROXY UNKNOWN ffff::1 ffff::2 1 2\r\nX', 'latin1'))
    assert.deepEqual(parsed, { version: 1, source: null, rest: Buffer.from('X') })
    assert.deepEqual(parseProxyHeader(Buffer.from('PROXY UNKNOWN\r\n', 'latin1'))?.source, null)
  })

  test('split across reads: null until the CRLF, then the header', () => {
    const parsed = parseByteByByte(Buffer.from('PROXY TCP4 10.1.2.3 10.0.0.1 40000 1883\r\n', 'latin1'))
    assert.deepEqual(parsed?.source, { address: '10.1.2.3', port: 40000, family: 'IPv4' })
  })

  test('the longest header allowed (107 bytes) parses; without a CRLF by then it is refused', () => {
    const ffff = 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff'
    // the spec's worst case: UNKNOWN with the longest addresses and ports
    const longest = `PROXY UNKNOWN ${ffff} ${ffff} 65535 65535\r\n`
    assert.equal(longest.length, maxV1Length)
    assert.deepEqual(parseProxyHeader(Buffer.from(longest, 'latin1'))?.source, null)
    const tcp6 = `PROXY TCP6 ${ffff} ${ffff} 65535 65535\r\n`
    assert.equal(parseProxyHeader(Buffer.from(tcp6, 'latin1'))?.source?.port, 65535)
    const endless = Buffer.from(`PROXY TCP4 ${'1'.repeat(200)}`, 'latin1')
    assert.equal(parseProxyHeader(endless.subarray(0, maxV1Length - 1)), null)
    assert.throws(() => parseProxyHeader(endless.subarray(0, maxV1Length)), /longer than 107 bytes/)
    // a CRLF that comes too late does not make it valid
    const late = Buffer.from(`PROXY TCP4 1.2.3.4 5.6.7.8 1 2${' '.repeat(100)}\r\n`, 'latin1')
    assert.throws(() => parseProxyHeader(late), ProxyHeaderError)
  })

  for (const [name, line, message] of [
    ['an unknown protocol', 'PROXY UDP4 1.2.3.4 5.6.7.8 1 2', /not TCP4, TCP6 or UNKNOWN/],
    ['a missing field', 'PROXY TCP4 1.2.3.4 5.6.7.8 1', /exactly 4 fields/],
    ['two spaces', 'PROXY TCP4 1.2.3.4  5.6.7.8 1 2', /exactly 4 fields/],
    ['an IPv6 address in TCP4', 'PROXY TCP4 ::1 ::1 1 2', /addresses are not valid/],
    ['an IPv4 address in TCP6', 'PROXY TCP6 1.2.3.4 5.6.7.8 1 2', /addresses are not valid/],
    ['a host name', 'PROXY TCP4 localhost 5.6.7.8 1 2', /addresses are not valid/],
    ['a port above 65535', 'PROXY TCP4 1.2.3.4 5.6.7.8 65536 2', /port "65536"/],
    ['a negative port', 'PROXY TCP4 1.2.3.4 5.6.7.8 -1 2', /port "-1"/],
    ['a bad destination port', 'PROXY TCP4 1.2.3.4 5.6.7.8 1 x', /port "x"/],
  ] as const) {
    test(`refuses ${name}`, () => {
      assert.throws(() => parseProxyHeader(Buffer.from(`${line}\r\n`, 'latin1')), message)
    })
  }
})

describe('v2 (binary)', () => {
  /** Signature, version 2 + command, family/transport, 16-bit length, then `block`. */
  function v2(command: number, familyTransport: number, block: number[]): Buffer {
    return Buffer.from([
      ...v2Signature,
      0x20 | command, // version 2, LOCAL (0) or PROXY (1)
      familyTransport,
      block.length >> 8,
      block.length & 0xff,
      ...block,
    ])
  }
  const inet = [
    203,
    0,
    113,
    7, // source address
    192,
    0,
    2,
    1, // destination address
    0xc8,
    0x22, // source port 51234
    0x07,
    0x5b, // destination port 1883
  ]

  test('PROXY over AF_INET/STREAM: the source address and port, the rest after the length', () => {
    const parsed = parseProxyHeader(Buffer.concat([v2(1, 0x11, inet), mqttConnect]))
    assert.deepEqual(parsed, {
      version: 2,
      source: { address: '203.0.113.7', port: 51234, family: 'IPv4' },
      rest: mqttConnect,
    })
  })

  test('PROXY over AF_INET6: addresses in RFC 5952 text, as Node reports peers', () => {
    const cases: Array<[number[], string]> = [
      [[0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 7], '2001:db8::7'],
      [[0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1], '::1'],
      [[0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 198, 51, 100, 9], '::ffff:198.51.100.9'],
      [[0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1], '2001:db8:1::1:0:1'],
      [
        [0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde, 0xf0],
        'fe80::1234:5678:9abc:def0',
      ],
      [[0, 1, 0, 2, 0, 3, 0, 4, 0, 5, 0, 6, 0, 7, 0, 8], '1:2:3:4:5:6:7:8'],
      [[0, 1, 0, 0, 0, 3, 0, 4, 0, 5, 0, 6, 0, 7, 0, 8], '1:0:3:4:5:6:7:8'],
    ]
    for (const [source, text] of cases) {
      const destination = new Array(16).fill(0)
      const block = [...source, ...destination, 0x04, 0xd2, 0x07, 0x5b] // ports 1234, 1883
      const parsed = parseProxyHeader(v2(1, 0x21, block))
      assert.deepEqual(parsed?.source, { address: text, port: 1234, family: 'IPv6' }, text)
    }
  })

  test('TLVs after the addresses are skipped: the length field says where the header ends', () => {
    // PP2_TYPE_UNIQUE_ID (0x05), 3 bytes; PP2_TYPE_NOOP (0x04), 0 bytes
    const tlvs = [0x05, 0x00, 0x03, 0x61, 0x62, 0x63, 0x04, 0x00, 0x00]
    const parsed = parseProxyHeader(Buffer.concat([v2(1, 0x11, [...inet, ...tlvs]), mqttConnect]))
    assert.equal(parsed?.source?.address, '203.0.113.7')
    assert.deepEqual(parsed?.rest, mqttConnect)
  })

  test('LOCAL (a health check by the proxy itself): the connection’s own address stands', () => {
    assert.deepEqual(parseProxyHeader(v2(0, 0x00, [])), { version: 2, source: null, rest: Buffer.alloc(0) })
    // LOCAL with an address block: the block is ignored, and skipped
    assert.deepEqual(parseProxyHeader(Buffer.concat([v2(0, 0x11, inet), mqttConnect])), {
      version: 2,
      source: null,
      rest: mqttConnect,
    })
  })

  test('AF_UNSPEC and AF_UNIX carry no IP address: the connection’s own stands', () => {
    assert.equal(parseProxyHeader(v2(1, 0x00, []))?.source, null)
    assert.equal(parseProxyHeader(v2(1, 0x31, new Array(216).fill(0)))?.source, null)
  })

  test('split across reads: null until the last byte of the length, then the header', () => {
    const parsed = parseByteByByte(v2(1, 0x11, [...inet, 0x04, 0x00, 0x00]))
    assert.equal(parsed?.source?.port, 51234)
  })

  test('refuses a version other than 2, an unknown command or family, a block shorter than its family', () => {
    const bad = (bytes: Buffer, message: RegExp) => assert.throws(() => parseProxyHeader(bytes), message)
    const withByte = (at: number, value: number) => {
      const b = v2(1, 0x11, inet)
      b[at] = value
      return b
    }
    bad(withByte(12, 0x11), /version 1 is not 2/)
    bad(withByte(12, 0x22), /command 2/)
    bad(withByte(13, 0x41), /family 4 is unknown/)
    bad(v2(1, 0x11, inet.slice(0, 11)), /AF_INET address block of 11 bytes/)
    bad(v2(1, 0x21, new Array(35).fill(0)), /AF_INET6 address block of 35 bytes/)
  })
})

describe('neither version', () => {
  test('garbage is refused on the first byte that cannot start a header, without waiting for more', () => {
    // an MQTT CONNECT sent straight to a proxyProtocol listener
    assert.throws(
      () => parseProxyHeader(mqttConnect.subarray(0, 1)),
      /no PROXY protocol signature \(first bytes 10\)/,
    )
    assert.throws(() => parseProxyHeader(Buffer.from('GET / HTTP/1.1\r\n')), ProxyHeaderError)
    // a TLS ClientHello
    assert.throws(() => parseProxyHeader(Buffer.from([0x16, 0x03, 0x01])), ProxyHeaderError)
    // starts like each signature, then departs from it
    assert.throws(() => parseProxyHeader(Buffer.from('PROXZ')), ProxyHeaderError)
    assert.throws(() => parseProxyHeader(Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x01])), ProxyHeaderError)
  })

  test('no bytes, or a prefix of either signature, is not yet a verdict', () => {
    assert.equal(parseProxyHeader(Buffer.alloc(0)), null)
    assert.equal(parseProxyHeader(Buffer.from('PROX')), null)
    assert.equal(parseProxyHeader(Buffer.from(v2Signature.slice(0, 7))), null)
  })
})
