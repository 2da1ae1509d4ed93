import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { test } from 'node:test'
import { promisify } from 'node:util'

const run = promisify(execFile)

test("an accepted socket's TCP handle alone crosses to a worker: the worker's one socket has fast properties, the main thread's is destroyed without a handle, data flows both ways", async () => {
  const { stdout } = await run(process.execPath, [
    '--allow-natives-syntax',
    new URL('../fixtures/transfer/transfer-socket.ts', import.meta.url).pathname,
  ])
  const report = JSON.parse(stdout) as Record<string, unknown>
  assert.equal(report.fast, true, 'built by the constructor, not deserialized field by field')
  assert.equal(report.acceptedDestroyed, true)
  assert.equal(report.acceptedHasHandle, false, 'the main thread gave its handle up')
  assert.equal(report.echoed, 'echo:ping')
  assert.equal(report.remotePort, report.clientPort)
  assert.equal(report.bytesRead, 4)
})
