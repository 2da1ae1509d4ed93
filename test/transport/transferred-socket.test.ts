import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { test } from 'node:test'
import { promisify } from 'node:util'

const run = promisify(execFile)

test('a socket transferred to a worker is rebuilt around its handle: fast properties instead of a dictionary, the husk without a handle, data both ways', async () => {
  const { stdout } = await run(process.execPath, [
    '--allow-natives-syntax',
    new URL('../fixtures/transfer/transfer-socket.ts', import.meta.url).pathname,
  ])
  const report = JSON.parse(stdout) as Record<string, unknown>
  // what the rebuild is for: Node deserializes a transferred socket into a dictionary-mode object
  assert.equal(
    report.transferredFast,
    false,
    'if Node now transfers sockets in fast mode, the rebuild can go',
  )
  assert.equal(report.rebuiltFast, true)
  assert.equal(report.sameObject, false)
  assert.equal(report.huskHasHandle, false, 'the transferred object gave its handle up')
  assert.equal(report.echoed, 'echo:ping')
  assert.equal(report.remotePort, report.clientPort)
  assert.equal(report.bytesRead, 4)
})
