/**
 * Checkpoints the store's WAL from the main thread, so the workers' commits do
 * not have to. SQLite's automatic checkpoint runs inside the COMMIT that takes
 * the WAL past 1,000 pages, on that worker's event loop: about a third of the
 * store's time per message (insert, update and delete of QoS 1 messages in
 * groups of 100: 5.5 µs with it, 3.6 µs without). The workers keep an
 * automatic checkpoint far above SQLite's default (sqlite-store.ts) as a bound
 * should this thread fall behind.
 *
 * RESTART, not PASSIVE: under a steady stream of commits a passive checkpoint
 * never finds the whole WAL copied at the start of a write, so the WAL is never
 * reused and grows (measured: 41 MB in 4 s). RESTART waits (up to
 * `busyTimeoutMs`, on this thread) for the running transaction, copies
 * everything and lets the next writer start the WAL over; a worker that wants
 * to commit meanwhile finds the lock taken and tries again a millisecond later
 * without blocking its event loop.
 */
import { openDatabase, type SyncMode } from './sqlite-store.ts'

/** Starts checkpointing `file` every `intervalMs`; returns the stop function. */
export function startCheckpointer(
  file: string,
  sync: SyncMode,
  onError: (err: unknown) => void,
  intervalMs = 250,
  busyTimeoutMs = 50,
): () => void {
  const db = openDatabase(file, sync, busyTimeoutMs)
  const checkpoint = db.prepare('PRAGMA wal_checkpoint(RESTART)')
  let lastError = 0
  const timer = setInterval(() => {
    try {
      checkpoint.get()
    } catch (err) {
      // One line per minute at most: a full disk fails every time
      const now = Date.now()
      if (now - lastError >= 60_000) {
        lastError = now
        onError(err)
      }
    }
  }, intervalMs)
  timer.unref()
  return () => {
    clearInterval(timer)
    db.close()
  }
}
