/**
 * The floor the connection benchmark compares against: a bare Node `net.Server`
 * holding sockets with a `data` listener, answering the first chunk of each with
 * a 3.1.1 CONNACK (so the same load generator can drive it) and PINGREQ with
 * PINGRESP. Nothing else: no parser, no per-connection object.
 *
 *   node load-tests/connections/bare-server.ts <port>
 */
import net from 'node:net'
import { answerLikeABroker } from './bare-answer.ts'

const server = net.createServer({ noDelay: true }, answerLikeABroker)
server.listen(Number(process.argv[2]), '127.0.0.1')
process.on('SIGTERM', () => process.exit(0))
