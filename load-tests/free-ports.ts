/**
 * Ports for servers that a benchmark or a test starts and that must be told
 * their port in advance (mqttd's config, HAProxy, nats-server), where the
 * server cannot bind port 0 and report what it got.
 */
import net from 'node:net'

/**
 * `count` distinct ports that were free a moment ago on `host`: all held at once, then released,
 * since two calls one after the other may both get the port the first released (seen here: a
 * server started with its listener and admin API on the same port).
 */
export async function freePorts(count: number, host = '127.0.0.1'): Promise<number[]> {
  const servers = Array.from({ length: count }, () => net.createServer())
  try {
    return await Promise.all(
      servers.map(
        (s) =>
          new Promise<number>((resolve, reject) => {
            s.once('error', reject)
            s.listen(0, host, () => resolve((s.address() as net.AddressInfo).port))
          }),
      ),
    )
  } finally {
    await Promise.all(
      servers.map((s) => new Promise((resolve) => (s.listening ? s.close(resolve) : resolve(null)))),
    )
  }
}

/** A port that was free a moment ago on `host` (for several, {@link freePorts}). */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  const [port] = await freePorts(1, host)
  return port!
}
