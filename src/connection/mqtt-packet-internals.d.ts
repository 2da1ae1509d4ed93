// Typings for the parts of mqtt-packet's internals that packet-parser.ts builds on.
// mqtt-packet ships types for its public API only; these follow its 9.0.x sources.

declare module 'mqtt-packet/parser.js' {
  import { EventEmitter } from 'node:events'

  interface BufferListLike {
    readonly length: number
    /** The buffers held, the first one starting at offset 0 (bl 6 `consume` trims it). */
    _bufs: Buffer[]
    append(buf: Buffer): unknown
    consume(bytes: number): unknown
    readUInt8(offset: number): number
    readUInt16BE(offset: number): number
    readUInt32BE(offset: number): number
    slice(start: number, end: number): Buffer
    toString(encoding: BufferEncoding, start: number, end: number): string
  }

  interface ParserSettings {
    protocolVersion?: number
    bridgeMode?: boolean
  }

  interface ParserPacket {
    cmd: string | null
    length: number
    reasonCode?: number
    [key: string]: unknown
  }

  class Parser extends EventEmitter {
    settings: ParserSettings
    packet: ParserPacket
    error: Error | null
    _list: BufferListLike
    _pos: number
    _stateCounter: number
    /** The names of the methods that read each part of a packet, in order. */
    _states: string[]
    parser(settings?: ParserSettings): this
    parse(buf: Buffer): number
    _resetState(): void
    _newPacket(): boolean
    _parseHeader(): boolean | undefined
    _parseLength(): boolean
    _parsePayload(): boolean
    _parseConnack(): unknown
    _parsePublish(): unknown
    _parseConfirmation(): unknown
    _parseSuback(): unknown
    _parseUnsuback(): unknown
    _parseNum(): number
    _parseBuffer(): Buffer | null
    _parseVarByteNum(fullInfoFlag?: boolean): number | { bytes: number; value: number } | false
    _parseConnect(): unknown
    _parseDisconnect(): unknown
    _parseAuth(): unknown
    _emitError(err: Error): void
    _parseString(): string | null
    _parseProperties(): unknown
    _parseSubscribe(): unknown
    _parseUnsubscribe(): unknown
  }
  export default Parser
}

declare module 'mqtt-packet/constants.js' {
  const constants: {
    MQTT5_DISCONNECT_CODES: Record<number, string>
    MQTT5_AUTH_CODES: Record<number, string>
    /** Packet type names by the fixed header's high nibble. */
    types: Record<number, string>
    /** The flag nibble a packet type requires, where it requires one. */
    requiredHeaderFlags: Record<number, number>
    /** The error message for a wrong flag nibble, by packet type. */
    requiredHeaderFlagsErrors: Record<number, string>
    CMD_SHIFT: number
    RETAIN_MASK: number
    QOS_SHIFT: number
    QOS_MASK: number
    DUP_MASK: number
  }
  export default constants
}

declare module 'mqtt-packet/packet.js' {
  /** The class of every packet mqtt-packet's parser emits (fixed-header defaults set). */
  class Packet {
    cmd: string | null
    retain: boolean
    qos: number
    dup: boolean
    length: number
    topic: string | null
    payload: Buffer | null
    messageId?: number
    reasonCode?: number
  }
  export default Packet
}
