import constants from 'mqtt-packet/constants.js'
import Parser from 'mqtt-packet/parser.js'
import { mqttdError } from '../errors.ts'
import { varintSize } from '../mqtt/varint.ts'

// mqtt-packet's parse states: 0 header, 1 length, 2 body (parser.js, `_stateCounter`)
const BODY_STATE = 2

/** Bytes of the fixed header for a remaining length (1 type byte + 1..4 length bytes). */
function fixedHeaderSize(remaining: number): number {
  return 1 + varintSize(remaining)
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
 * This builds on mqtt-packet 9.0.x internals (`_parseLength`, `_parseDisconnect`,
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

  override _parseLength(): boolean {
    if (!super._parseLength()) return false
    const remaining = this.packet.length
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
