/**
 * mqttd's main API. `mqttd/connection` holds the Connection class alone.
 * @module
 */
export { Connection } from './connection/connection.ts'
export type * from './connection/types.ts'
export { errorTable, MqttdError, type ErrorCode } from './errors.ts'
export { defineHandler } from './handlers/define-handler.ts'
export type * from './handlers/types.ts'
