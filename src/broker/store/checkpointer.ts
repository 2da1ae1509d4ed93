/**
 * Checkpoints the store's WAL from the main thread, so the workers' commits do
 * not have to. SQLite's automatic checkpoint runs inside the COMMIT that takes
 * the WAL past 1,000 pages, on that worker's event loop: about a third of the
 * store's time per message (insert, update and delete of QoS 1 messages in
 * groups of 100: 5.5 µs with it, 3.6 µs without). The workers keep an
 * automatic checkpoint far above SQLite's default (sqlite-store.ts) as a bound
 * should this thread fall behind.
 *
 * Two steps, PASSIVE then RESTART. A passive checkpoint alone never resets the
 * WAL under a steady stream of commits (it is never all copied when a write
 * begins: 41 MB in 4 s), so a RESTART follows: it waits (up to
 * `busyTimeoutMs`, on this thread) for the running transaction and holds the
 * write lock while it copies what is left and lets the next writer start the
 * WAL over. A worker that wants to commit meanwhile finds the lock taken and
 * tries again a millisecond later. With `synchronous=NORMAL` a checkpoint
 * fsyncs the WAL and the database file; done by RESTART alone, both fsyncs of
 * 250 ms of WAL ran under the write lock (13–22 ms every 250 ms under a QoS 1
 * flood, so about 60 commits a second were put off); the passive step copies
 * and fsyncs the bulk without the lock, leaving the RESTART a few
 * milliseconds' worth (0.1–6 ms measured).
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
  const copy = db.prepare('PRAGMA wal_checkpoint(PASSIVE)')
  const restart = db.prepare('PRAGMA wal_checkpoint(RESTART)')
  let lastError = 0
  const timer = setInterval(() => {
    try {
      copy.get()
      restart.get()
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
