/**
 * Reads the key, certificate and CA files of the TLS listeners once, in the
 * main thread, so a missing file stops start-up with the listener's name.
 */
import { readFileSync } from 'node:fs'
import type { ListenerConfig } from '../config/schema.ts'
import { mqttdErrorWithCause } from '../errors.ts'
import type { TlsMaterial } from '../transport/tls.ts'

function read(what: string, listener: string, file: string): string {
  try {
    return readFileSync(file, 'utf8')
  } catch (err) {
    throw mqttdErrorWithCause('MQTTD_ERR_TLS_FILE', err, `${what} ${file}`, listener, (err as Error).message)
  }
}

export function readTlsMaterial(listener: ListenerConfig): TlsMaterial {
  const name = listener.name ?? listener.type
  const material: TlsMaterial = {
    key: read('key', name, listener.key!),
    cert: read('cert', name, listener.cert!),
    requestCert: listener.requestCert,
    rejectUnauthorized: listener.rejectUnauthorized,
    minVersion: listener.minVersion,
  }
  if (listener.ca !== undefined) {
    const files = Array.isArray(listener.ca) ? listener.ca : [listener.ca]
    material.ca = files.map((f) => read('ca', name, f))
  }
  return material
}
