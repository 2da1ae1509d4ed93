/** setTimeout caps delays at 2^31-1 ms (~24.8 days); longer deadlines re-arm until reached. */
const MAX_DELAY = 0x7fffffff

/** Runs `fn` at `deadline` (ms since epoch) without keeping the thread alive; returns a cancel function. */
export function runAt(deadline: number, fn: () => void): () => void {
  let timer: NodeJS.Timeout
  const arm = (): void => {
    const wait = deadline - Date.now()
    if (wait <= 0) {
      fn()
      return
    }
    timer = setTimeout(arm, Math.min(wait, MAX_DELAY))
    timer.unref()
  }
  arm()
  return () => clearTimeout(timer)
}
