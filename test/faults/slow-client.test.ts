import net from 'node:net'
import t from 'tap'
import { buildTestApp } from '../helpers/app.js'

// A client may take 30 s to send a whole request (docs/deploy.md), and no longer: a sender that
// trickles its headers or its body is cut off at that bound, not up to twice it (Node looks for
// such connections every 30 s unless told otherwise). Real sockets, and real time: 30 s.

const BOUND_MS = 30_000
/** What a loaded machine may add to the bound. */
const SLACK_MS = 3_000

/** Writes `head`, then one more piece every 2 s; resolves with the ms until the server closed the connection, and what it answered. */
function trickle(port: number, head: string, piece: string): Promise<{ ms: number; answer: string }> {
  return new Promise((resolve) => {
    const started = Date.now()
    const socket = net.connect(port, '127.0.0.1', () => socket.write(head))
    const received: Buffer[] = []
    const timer = setInterval(() => socket.writable && socket.write(piece), 2_000)
    socket.on('data', (chunk: Buffer) => received.push(chunk))
    socket.on('error', () => {})
    socket.once('close', () => {
      clearInterval(timer)
      resolve({ ms: Date.now() - started, answer: Buffer.concat(received).toString('latin1') })
    })
  })
}

t.test('a client that trickles its headers or its body is cut off at 30 s', async (t) => {
  const test = await buildTestApp(t)
  await test.app.listen({ port: 0, host: '127.0.0.1' })
  const { port } = test.app.server.address() as net.AddressInfo
  const [headers, body] = await Promise.all([
    trickle(port, 'POST /includes/api.php HTTP/1.1\r\nHost: 127.0.0.1\r\n', 'X-Slow: 1\r\n'),
    trickle(
      port,
      'POST /includes/api.php HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 10000\r\n\r\n',
      'a=b&',
    ),
  ])
  for (const [name, cut] of [['headers', headers], ['body', body]] as const) {
    t.ok(cut.ms >= BOUND_MS - 1_000 && cut.ms < BOUND_MS + SLACK_MS, `${name}: cut off at the bound (${cut.ms} ms)`)
    t.match(cut.answer, /^HTTP\/1\.1 408 /, `${name}: with 408 Request Timeout`)
  }
  const served = await fetch(`http://127.0.0.1:${port}/healthz`)
  t.equal(served.status, 200, 'others are served meanwhile and after')
})
