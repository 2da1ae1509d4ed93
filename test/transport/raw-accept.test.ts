import assert from 'node:assert/strict'
import { connect, createServer, type Server, type Socket } from 'node:net'
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

test("TCP_NODELAY: what the listener's first poll accepts is marked for the worker to set; later sockets inherit it", async (t) => {
  const server = createServer()
  t.after(() => server.close())
  const marks: boolean[] = []
  let accepted: (() => void) | undefined
  let port = 0
  const early = await new Promise<Socket>((resolve) =>
    server.listen(0, '127.0.0.1', () => {
      // as in the acceptor: taken over in the listen callback, but a client connected in between
      // (its connect() runs in a nextTick, this one after it, and no poll runs between ticks)
      port = (server.address() as { port: number }).port
      const client = connect(port, '127.0.0.1')
      process.nextTick(() => {
        acceptRaw(
          server,
          (handle, inheritsNoDelay) => {
            marks.push(inheritsNoDelay)
            closeHandle(handle)
            accepted?.()
          },
          (err) => assert.fail(err),
        )
        resolve(client)
      })
    }),
  )
  early.on('error', () => {})
  t.after(() => early.destroy())
  await new Promise<void>((resolve) => (accepted = resolve))
  // two turns on, the queue the listen() window may have filled is taken
  await new Promise((resolve) => setImmediate(() => setImmediate(resolve)))
  const late = connect(port, '127.0.0.1')
  late.on('error', () => {})
  t.after(() => late.destroy())
  await new Promise<void>((resolve) => (accepted = resolve))
  assert.deepEqual(marks, [false, true])
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
