/** Paths and contents of the committed test TLS material (test/fixtures/tls). */
import { readFileSync } from 'node:fs'

const dir = new URL('../fixtures/tls/', import.meta.url).pathname
const file = (name: string) => `${dir}${name}`

export const tlsFiles = {
  ca: file('ca.pem'),
  key: file('server-key.pem'),
  cert: file('server.pem'),
  clientKey: file('client-key.pem'),
  clientCert: file('client.pem'),
}

export const tlsPem = {
  ca: readFileSync(tlsFiles.ca),
  clientKey: readFileSync(tlsFiles.clientKey),
  clientCert: readFileSync(tlsFiles.clientCert),
}
