import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { test } from 'node:test'
import { promisify } from 'node:util'

const run = promisify(execFile)

test("an accepted TCP handle alone crosses to a worker: the main thread made no socket and read nothing, the worker's one socket has fast properties, data flows both ways", async () => {
  const { stdout } = await run(process.execPath, [
    '--allow-natives-syntax',
    new URL('../fixtures/transfer/transfer-socket.ts', import.meta.url).pathname,
  ])
  const report = JSON.parse(stdout) as Record<string, unknown>
  assert.equal(report.fast, true, 'built by the constructor, not deserialized field by field')
  assert.equal(report.socketEvents, 0, 'no net.Socket (no connection event) in the main thread')
  assert.equal(report.bytesReadAtHandOff, 0)
  assert.equal(report.echoed, 'echo:ping')
  assert.equal(report.remotePort, report.clientPort)
  assert.equal(report.bytesRead, 4)
})
