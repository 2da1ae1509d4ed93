/**
 * `mqttd/connection`: the Connection alone (a typed, faster mqtt-connection).
 * @module
 */
import { Connection } from './connection.ts'

export { type ErrorCode, MqttdError } from '../errors.ts'
export type { ConnectionConstructor } from './connection.ts'
export type { GenerateError } from './generate-error.ts'
export { generateStream, type ParseStream, parseStream } from './streams.ts'
export type * from './types.ts'
export { Connection }
export default Connection
// `require('mqttd/connection')` returns the class itself, as `require('mqtt-connection')` does
// (Node's require(esm) honours this export name).
export { Connection as 'module.exports' }
