import assert from 'node:assert/strict'
import { connect, createServer, type Server } from 'node:net'
import { test } from 'node:test'
import { acceptRaw, closeHandle, peerAddress } from '../../src/transport/raw-accept.ts'
import type { TcpHandle } from '../../src/transport/transferred-socket.ts'

function listening(t: { after: (fn: () => void) => void }): Promise<{ server: Server; port: number }> {
  const server = createServer()
  t.after(() => server.close())
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () =>
      resolve({ server, port: (server.address() as { port: number }).port }),
    ),
  )
}

test('an accepted handle comes without a net.Socket, unread, with its peer address; closing it closes the connection', async (t) => {
  const { server, port } = await listening(t)
  let connectionEvents = 0
  server.on('connection', () => connectionEvents++)
  const accepted = new Promise<TcpHandle>((resolve, reject) => acceptRaw(server, resolve, reject))
  const client = connect(port, '127.0.0.1')
  client.on('error', () => {})
  client.write('bytes the main thread must not read')
  const handle = await accepted
  assert.equal(handle.bytesRead, 0)
  assert.equal(peerAddress(handle), '127.0.0.1')
  assert.equal(connectionEvents, 0)
  const closed = new Promise((resolve) => client.once('close', resolve))
  closeHandle(handle)
  await closed
})

test('a failed accept reaches onError as net.Server would raise it (code, errno, syscall)', async (t) => {
  const { server } = await listening(t)
  const errors: NodeJS.ErrnoException[] = []
  acceptRaw(
    server,
    () => assert.fail('no handle'),
    (err) => errors.push(err),
  )
  // what libuv reports when the process is out of file descriptors
  ;(server as unknown as { _handle: { onconnection: (status: number) => void } })._handle.onconnection(-24)
  assert.equal(errors.length, 1)
  assert.equal(errors[0]!.code, 'EMFILE')
  assert.equal(errors[0]!.errno, -24)
  assert.equal(errors[0]!.syscall, 'accept')
  assert.match(errors[0]!.message, /accept EMFILE/)
})

test('a server that does not listen is refused (Node internals that changed shape fail loudly)', () => {
  assert.throws(
    () =>
      acceptRaw(
        createServer(),
        () => {},
        () => {},
      ),
    /not listening/,
  )
})
