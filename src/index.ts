/**
 * mqttd's main API. `mqttd/connection` holds the Connection class alone.
 * @module
 */

export { loadConfig } from './config/load.ts'
export type { ListenerConfig, MqttdConfig, MqttdConfigInput } from './config/schema.ts'
export { validateConfig } from './config/validate.ts'
export { Connection } from './connection/connection.ts'
export type * from './connection/types.ts'
export { type ErrorCode, errorTable, MqttdError } from './errors.ts'
export { defineHandler } from './handlers/define-handler.ts'
export type * from './handlers/types.ts'
export { type BoundListener, type RunningServer, type StartOptions, startServer } from './main/server.ts'
export { ReasonCode } from './mqtt/reason-codes.ts'
