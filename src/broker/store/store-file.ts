/**
 * The store's file, checked before any worker opens it: the directory exists
 * and is writable, no other live mqttd process uses it (a pid lock file), and
 * the database opens, passes SQLite's quick check and has mqttd's tables.
 * Every failure is a coded error naming the file and how to recover, so a bad
 * store stops start-up with one line, never a worker crash loop.
 */
import { accessSync, constants, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { mqttdError } from '../../errors.ts'
import { openDatabase, STORE_FILE, type SyncMode } from './sqlite-store.ts'

/** The `persistence` section once resolved: an absolute `dir`. */
export interface PersistenceOptions {
  dir: string
  sync: SyncMode
  maxBytes: number
}

const LOCK_FILE = 'mqttd.lock'

export function storeFile(options: PersistenceOptions): string {
  return join(options.dir, STORE_FILE)
}

/** Creates the directory when missing and checks that it is writable (also `mqttd --check`). */
export function checkStoreDir(dir: string): void {
  try {
    mkdirSync(dir, { recursive: true })
    accessSync(dir, constants.W_OK | constants.R_OK)
    const probe = join(dir, `.mqttd-write-test-${process.pid}`)
    writeFileSync(probe, '')
    rmSync(probe)
  } catch (err) {
    throw mqttdError('MQTTD_ERR_STORE_DIR', dir, (err as Error).message)
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/**
 * Takes the directory for this process (a second server on the same store
 * would adopt the first one's live sessions); a lock left by a dead process
 * (kill -9) is taken over. Returns the release function.
 */
function lockStoreDir(dir: string): () => void {
  const lock = join(dir, LOCK_FILE)
  let holder: number | undefined
  try {
    holder = Number.parseInt(readFileSync(lock, 'utf8'), 10)
  } catch {
    holder = undefined
  }
  if (holder !== undefined && holder !== process.pid && Number.isInteger(holder) && alive(holder))
    throw mqttdError('MQTTD_ERR_STORE_LOCKED', join(dir, STORE_FILE), `process ${holder} holds ${lock}`)
  writeFileSync(lock, String(process.pid))
  return () => {
    try {
      if (readFileSync(lock, 'utf8') === String(process.pid)) rmSync(lock)
    } catch {
      // Already gone
    }
  }
}

/**
 * Prepares the store for the workers: directory, lock, schema, integrity.
 * Returns the function that releases the lock when the server stops.
 */
export function prepareStore(options: PersistenceOptions): () => void {
  checkStoreDir(options.dir)
  const release = lockStoreDir(options.dir)
  const file = storeFile(options)
  try {
    const db = openDatabase(file, options.sync)
    try {
      const check = db.prepare('PRAGMA quick_check').all() as { quick_check: string }[]
      const problems = check.map((r) => r.quick_check).filter((r) => r !== 'ok')
      if (problems.length > 0)
        throw Object.assign(new Error(problems.slice(0, 3).join('; ')), { errcode: 11 })
    } finally {
      db.close()
    }
  } catch (err) {
    release()
    const e = err as { errcode?: number; message?: string }
    // SQLITE_BUSY / SQLITE_LOCKED: another process holds the database
    if (e.errcode === 5 || e.errcode === 6)
      throw mqttdError('MQTTD_ERR_STORE_LOCKED', file, e.message ?? String(err))
    throw mqttdError('MQTTD_ERR_STORE_CORRUPT', file, e.message ?? String(err))
  }
  return release
}
