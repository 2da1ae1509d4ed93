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
 * What to do about an unsupported Node. Installed as a package (under node_modules) the
 * reader is a user of mqttd: only installing a Node helps. In a clone of the repository,
 * the npm scripts bring their own Node (a development dependency for Linux x64).
 * @param {string} moduleUrl import.meta.url of a file of this package
 * @returns {string}
 */
export function nodeVersionAdvice(moduleUrl) {
  const install =
    'Node 26.6 or later (or 24.20+ on the 24.x line), e.g. `nvm install 26` or from nodejs.org, ' +
    'and run mqttd with it (`node -v` must print a supported version).'
  if (moduleUrl.includes('/node_modules/')) return `Install ${install}`
  return (
    'In a clone of mqttd, run it through npm (npm start / npm test): on Linux x64 `npm ci` installs ' +
    `Node 26 into node_modules/.bin for the npm scripts. Elsewhere, install ${install}`
  )
}

/**
 * Exits with a clear message when the running Node cannot run mqttd.
 * @param {string} [what] what was being started, for the message
 */
export function assertSupportedNode(what = 'mqttd') {
  const version = process.versions.node
  if (isSupportedNode(version)) return
  process.stderr.write(
    `MQTTD_ERR_NODE_VERSION: ${what} needs Node ${REQUIRED_NODE} (socket transfer to worker threads); ` +
      `this is Node ${version} at ${process.execPath}.\n${nodeVersionAdvice(import.meta.url)}\n`,
  )
  process.exit(1)
}
