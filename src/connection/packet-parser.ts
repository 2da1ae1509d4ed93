import { isUtf8 } from 'node:buffer'
import constants from 'mqtt-packet/constants.js'
import Packet from 'mqtt-packet/packet.js'
import Parser from 'mqtt-packet/parser.js'
import { MqttdError, mqttdError } from '../errors.ts'
import { varintSize } from '../mqtt/varint.ts'
import { type ConnectRefusal, connectRefusal, withConnectRefusal } from './connect-refusal.ts'
import { propertyViolation } from './property-rules.ts'

// mqtt-packet's parse states: 0 header, 1 length, 2 body (parser.js, `_stateCounter`)
const BODY_STATE = 2

/** Bytes of the fixed header for a remaining length (1 type byte + 1..4 length bytes). */
function fixedHeaderSize(remaining: number): number {
  return 1 + varintSize(remaining)
}

type BufferList = Parser['_list']

/**
 * bl's `readUInt8` / `readUInt16BE` / `readUInt32BE` slice the list (a new
 * Buffer, and an offset pair, per call: a CONNECT reads eight flag bytes with
 * them). These read the first buffer directly when the bytes lie in it, and
 * fall back to bl's otherwise. Set on each list the parser makes.
 */
function directReads(list: BufferList): void {
  const proto = Object.getPrototypeOf(list) as BufferList
  list.readUInt8 = function (this: BufferList, offset: number): number {
    const first = this._bufs[0]
    return first !== undefined && offset >= 0 && offset < first.length
      ? first[offset]!
      : proto.readUInt8.call(this, offset)
  }
  list.readUInt16BE = function (this: BufferList, offset: number): number {
    const first = this._bufs[0]
    return first !== undefined && offset >= 0 && offset + 2 <= first.length
      ? (first[offset]! << 8) | first[offset + 1]!
      : proto.readUInt16BE.call(this, offset)
  }
  list.readUInt32BE = function (this: BufferList, offset: number): number {
    const first = this._bufs[0]
    return first !== undefined && offset >= 0 && offset + 4 <= first.length
      ? first.readUInt32BE(offset)
      : proto.readUInt32BE.call(this, offset)
  }
}

/**
 * mqtt-packet's parser with three corrections, made by overriding its state
 * steps so the byte stream is never re-framed outside the parser:
 *
 * - A maximum packet size: the check runs right after the remaining length is
 *   read, so an oversized packet fails before any of its body is buffered.
 * - A v5 DISCONNECT or AUTH with remaining length 0 (or 1) means reason code
 *   0x00 (or the one byte) and no properties. mqtt-packet reads past the packet
 *   instead: it takes the next packet's bytes as reason code and properties
 *   (DISCONNECT) or fails (AUTH `F0 00`).
 *
 * This builds on mqtt-packet 9.0.x internals (`_parseLength`, `_parseConnect`, `_parseDisconnect`,
 * `_parseAuth`, `_emitError`, `_stateCounter`, `packet`, `_list`, `settings`), the only
 * file that touches them; package.json pins mqtt-packet to the checked 9.0.x and
 * test/connection/packet-parser.test.ts fails if an upgrade changes them.
 */
export class PacketParser extends Parser {
  /** Largest packet accepted, fixed header included; may change between packets (a shared parser). */
  maxPacketSize: number
  /** Who its events are for, when the parser is shared (see connection.ts). */
  owner: unknown

  constructor(settings: { protocolVersion?: number }, maxPacketSize = Number.POSITIVE_INFINITY) {
    super()
    this.maxPacketSize = maxPacketSize
    this.parser(settings)
  }

  /** Bytes still missing from the body of the packet being read; undefined when not inside a body. */
  get missingBodyBytes(): number | undefined {
    return this._stateCounter === BODY_STATE ? this.packet.length - this._list.length : undefined
  }

  /** Between packets, nothing buffered, not failed: the parser can be given to another connection. */
  get idle(): boolean {
    return this._stateCounter === 0 && this._list.length === 0 && this.error === null
  }

  /** mqtt-packet's `_parseHeader` without its debug() call (see {@link parse}); runs for every packet. */
  override _parseHeader(): boolean | undefined {
    const zero = this._list.readUInt8(0)
    const cmdIndex = zero >> constants.CMD_SHIFT
    const packet = this.packet
    packet.cmd = constants.types[cmdIndex]!
    const headerFlags = zero & 0xf
    const required = constants.requiredHeaderFlags[cmdIndex]
    if (required !== undefined && required !== null && headerFlags !== required) {
      // [3.1.1 MQTT-2.2.2-2] [5.0 MQTT-2.2.2-2] reserved flag bits set wrong: malformed, the connection closes
      this._emitError(new Error(constants.requiredHeaderFlagsErrors[cmdIndex]))
      return undefined
    }
    packet.retain = (zero & constants.RETAIN_MASK) !== 0
    const qos = (zero >> constants.QOS_SHIFT) & constants.QOS_MASK
    packet.qos = qos
    if (qos > 2) {
      this._emitError(new Error('Packet must not have both QoS bits set to 1'))
      return undefined
    }
    packet.dup = (zero & constants.DUP_MASK) !== 0
    this._list.consume(1)
    return true
  }

  override _parseLength(): boolean {
    // mqtt-packet's _parseLength without its debug() call
    const result = this._parseVarByteNum(true) as { bytes: number; value: number } | false
    if (!result) return false
    this.packet.length = result.value
    this._list.consume(result.bytes)
    const remaining = result.value
    // cheap pre-check first: the exact size needs the header length
    if (remaining + 2 > this.maxPacketSize) {
      const size = remaining + fixedHeaderSize(remaining)
      if (size > this.maxPacketSize) {
        this._emitError(mqttdError('MQTTD_ERR_PACKET_TOO_LARGE', size, this.maxPacketSize))
        return false
      }
    }
    return true
  }

  /**
   * mqtt-packet's parse loop, the same steps without its debug() calls: they
   * run whether debug output is on or not, four per packet part, and each
   * allocates its arguments (2 KB of a connection's 43 KB of garbage in a
   * worker, CONNECT to close, measured with a sampling heap profile).
   */
  override parse(buf: Buffer): number {
    if (this.error) this._resetState()
    this._list.append(buf)
    const states = this._states
    const steps = this as unknown as Record<string, () => boolean>
    while (
      (this.packet.length !== -1 || this._list.length > 0) &&
      steps[states[this._stateCounter]!]!() &&
      !this.error
    ) {
      this._stateCounter++
      if (this._stateCounter >= states.length) this._stateCounter = 0
    }
    return this._list.length
  }

  /** mqtt-packet's `_newPacket` without its three debug() calls (see {@link parse}). */
  override _newPacket(): boolean {
    if (this.packet) {
      this._list.consume(this.packet.length)
      this.emit('packet', this.packet)
    }
    this.packet = new Packet() as unknown as typeof this.packet
    this._pos = 0
    return true
  }

  override _resetState(): void {
    super._resetState()
    directReads(this._list)
  }

  /** mqtt-packet's `_parsePayload` without its two debug() calls per packet (see {@link parse}). */
  override _parsePayload(): boolean {
    const packet = this.packet
    if (packet.length !== 0 && this._list.length < packet.length) return false
    this._pos = 0
    switch (packet.cmd) {
      case 'connect':
        this._parseConnect()
        break
      case 'connack':
        this._parseConnack()
        break
      case 'publish':
        this._parsePublish()
        break
      case 'puback':
      case 'pubrec':
      case 'pubrel':
      case 'pubcomp':
        this._parseConfirmation()
        break
      case 'subscribe':
        this._parseSubscribe()
        break
      case 'suback':
        this._parseSuback()
        break
      case 'unsubscribe':
        this._parseUnsubscribe()
        break
      case 'unsuback':
        this._parseUnsuback()
        break
      case 'pingreq':
      case 'pingresp':
        break
      case 'disconnect':
        this._parseDisconnect()
        break
      case 'auth':
        this._parseAuth()
        break
      default:
        this._emitError(new Error('Not supported'))
    }
    return true
  }

  /** mqtt-packet's `_parseNum` without its debug() call. */
  override _parseNum(): number {
    if (this._list.length - this._pos < 2) return -1
    const result = this._list.readUInt16BE(this._pos)
    this._pos += 2
    return result
  }

  /** mqtt-packet's `_parseBuffer` without its debug() call. */
  override _parseBuffer(): Buffer | null {
    const length = this._parseNum()
    const end = length + this._pos
    if (length === -1 || end > this._list.length || end > this.packet.length) return null
    const result = this._list.slice(this._pos, end)
    this._pos += length
    return result
  }

  /** mqtt-packet's `_parseVarByteNum` without its two debug() calls. */
  override _parseVarByteNum(fullInfoFlag?: boolean): number | { bytes: number; value: number } | false {
    const list = this._list
    const padding = this._pos ? this._pos : 0
    let bytes = 0
    let mul = 1
    let value = 0
    let done = false
    while (bytes < 4 && padding + bytes < list.length) {
      const current = list.readUInt8(padding + bytes++)
      value += mul * (current & 0x7f)
      mul *= 0x80
      if ((current & 0x80) === 0) {
        done = true
        break
      }
      if (list.length <= bytes) break
    }
    if (!done && bytes === 4 && list.length >= bytes)
      this._emitError(new Error('Invalid variable byte integer'))
    if (padding) this._pos += bytes
    if (!done) return false
    return fullInfoFlag ? { bytes, value } : value
  }

  override _parseDisconnect(): unknown {
    if (this.settings.protocolVersion === 5 && this.packet.length < 2) {
      // MQTT 5 §3.14.2.1: reason code 0x00 and property length may be omitted
      return this.#shortReason(constants.MQTT5_DISCONNECT_CODES, 'disconnect')
    }
    return super._parseDisconnect()
  }

  override _parseAuth(): unknown {
    if (this.settings.protocolVersion === 5 && this.packet.length < 2) {
      // MQTT 5 §3.15.2.1: reason code 0x00 and property length may be omitted
      return this.#shortReason(constants.MQTT5_AUTH_CODES, 'auth')
    }
    return super._parseAuth()
  }

  #inProperties = false

  /**
   * [3.1.1 MQTT-1.5.3-1] [5.0 MQTT-1.5.4-1]: a string that is not well-formed
   * UTF-8 is a malformed packet (mqtt-packet decodes it to U+FFFD and goes
   * on); so is one holding U+0000 [3.1.1 MQTT-1.5.3-2] [5.0 MQTT-1.5.4-2].
   * In a v5 CONNECT, such a client id is refused with 0x85.
   */
  override _parseString(): string | null {
    const start = this._pos + 2
    // mqtt-packet's _parseString without its debug() call
    const length = this._parseNum()
    const end = length + this._pos
    if (length === -1 || end > this._list.length || end > this.packet.length) return null
    const s = this._list.toString('utf8', this._pos, end)
    this._pos += length
    const nul = s.includes('\u0000')
    if (!nul) {
      // as many UTF-16 units as bytes and no U+FFFD (what each ill-formed byte became): ASCII
      if (s.length === this._pos - start && !s.includes('\ufffd')) return s
      if (isUtf8(this._list.slice(start, this._pos))) return s
    }
    const packet = this.packet
    const clientId =
      packet.cmd === 'connect' &&
      packet.keepalive !== undefined &&
      packet.clientId === undefined &&
      !this.#inProperties
    const err = mqttdError(
      'MQTTD_ERR_MALFORMED_PACKET',
      `${nul ? 'U+0000' : 'ill-formed UTF-8'} in a ${packet.cmd} ${clientId ? 'client id' : 'string'}`,
    )
    this._emitError(
      packet.cmd === 'connect' && packet.protocolVersion === 5
        ? withConnectRefusal(err, { protocolVersion: 5, code: clientId ? 0x85 : 0x81 })
        : err,
    )
    return null
  }

  override _parseProperties(): unknown {
    this.#inProperties = true
    let properties: unknown
    try {
      properties = super._parseProperties()
    } finally {
      this.#inProperties = false
    }
    if (properties === false || this.error) return properties
    const packet = this.packet
    // in a CONNECT, the property list after the client id is the will's
    const where = packet.cmd === 'connect' && packet.clientId !== undefined ? 'will' : String(packet.cmd)
    const violation = propertyViolation(where, properties as Record<string, unknown>)
    if (violation !== null) {
      const code = violation.malformed ? 'MQTTD_ERR_MALFORMED_PACKET' : 'MQTTD_ERR_PROTOCOL_ERROR'
      const err = mqttdError(code, violation.what)
      const refusal = { protocolVersion: 5, code: err.reasonCode ?? 0x81 } as const
      this._emitError(packet.cmd === 'connect' ? withConnectRefusal(err, refusal) : err)
    }
    return properties
  }

  /** [3.1.1 MQTT-3.8.3-3] [5.0 MQTT-3.8.3-2]: a SUBSCRIBE without a topic filter is a protocol violation. */
  override _parseSubscribe(): unknown {
    const result = super._parseSubscribe()
    if (!this.error && (this.packet.subscriptions as unknown[] | undefined)?.length === 0) {
      this._emitError(mqttdError('MQTTD_ERR_PROTOCOL_ERROR', 'SUBSCRIBE without a topic filter'))
    }
    return result
  }

  /** [3.1.1 MQTT-3.10.3-2] [5.0 MQTT-3.10.3-2]: an UNSUBSCRIBE without a topic filter is a protocol violation. */
  override _parseUnsubscribe(): unknown {
    const result = super._parseUnsubscribe()
    if (!this.error && (this.packet.unsubscriptions as unknown[] | undefined)?.length === 0) {
      this._emitError(mqttdError('MQTTD_ERR_PROTOCOL_ERROR', 'UNSUBSCRIBE without a topic filter'))
    }
    return result
  }

  /** [3.1.1 MQTT-3.1.2-14] [5.0 MQTT-3.1.2-12]: a Will QoS of 3 is malformed (mqtt-packet takes it). */
  override _parseConnect(): unknown {
    const packet = super._parseConnect()
    const will = this.packet.will as { qos?: number } | undefined
    if (!this.error && will?.qos === 3) {
      this._emitError(mqttdError('MQTTD_ERR_MALFORMED_PACKET', 'Will QoS 3 in a CONNECT'))
    }
    return packet
  }

  override _emitError(err: Error): void {
    // the first error of a packet counts: mqtt-packet may add a "Packet too short" after ours
    if (this.error !== null && this.error !== undefined) return
    const packet = this.packet
    if (packet.cmd === 'connect' && err.message === 'Invalid protocol version') {
      // [3.1.1 MQTT-3.1.2-2] CONNACK 0x01 for a level it does not support; [5.0 MQTT-3.1.2-2] 0x84
      const level = packet.protocolVersion as number
      const refusal: ConnectRefusal =
        level > 5 ? { protocolVersion: 5, code: 0x84 } : { protocolVersion: 4, code: 0x01 }
      super._emitError(withConnectRefusal(err, refusal))
      return
    }
    if (packet.cmd === 'connect' && packet.protocolVersion === 5 && connectRefusal(err) === undefined) {
      // 5.0 §4.13.1 / [5.0 MQTT-3.1.4-1]: an error in a CONNECT may be answered with a CONNACK
      // carrying its reason code before the close; once the level byte said 5 the client reads
      // CONNACKs in that format, so it learns why (0x81 malformed unless the error has its own code)
      const code = err instanceof MqttdError && err.reasonCode !== undefined ? err.reasonCode : 0x81
      super._emitError(withConnectRefusal(err, { protocolVersion: 5, code }))
      return
    }
    super._emitError(err)
  }

  #shortReason(valid: Record<number, string>, name: string): boolean {
    const code = this.packet.length === 1 ? this._list.readUInt8(0) : 0
    if (valid[code] === undefined) {
      this._emitError(new Error(`Invalid ${name} reason code`))
      return false
    }
    this.packet.reasonCode = code
    return true
  }
}
