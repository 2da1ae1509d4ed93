/**
 * Whether Debian's mosquitto-clients are on PATH, for tests that talk to the
 * real `mosquitto_pub` / `mosquitto_sub`. Outside CI a test without them
 * skips; in CI (`CI=true`, where `.ci/run` installs them) their absence fails.
 */
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'

const run = promisify(execFile)

export async function hasMosquitto(): Promise<boolean> {
  try {
    await run('mosquitto_pub', ['--help'])
    return true
  } catch (err) {
    // --help exits 1 after printing usage; ENOENT means not installed
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') return true
    if (process.env.CI === 'true')
      throw new Error('mosquitto_pub is missing: CI must install mosquitto-clients')
    return false
  }
}
