import type { IncomingMessage, ServerResponse } from 'node:http'
import net from 'node:net'
import t, { type Test } from 'tap'
import { failureOf } from '../../src/http/errors.js'
import { loggerOptions } from '../../src/logging.js'
import { buildTestApp, type TestApp } from '../helpers/app.js'
import { captureLogs } from '../helpers/logs.js'
import { basic, newCredential } from '../helpers/rest.js'

// A client that goes away in the middle of its body (a reset, or Node's 408 for a body too slow)
// fails the request with a socket error (ECONNRESET, "aborted"): the request's own failure, not
// the database's (src/http/errors.ts, failureOf). Real sockets, since inject has none to lose.

type LogLine = { level: number; msg: string; reason?: string; url?: string; statusCode?: number }

/** Both edges, each with a body that says 100 bytes and sends 5 of them. */
const EDGES = [
  { edge: 'REST', path: '/oauth/credentials', type: 'application/json', start: '{"nam' },
  { edge: 'api.php (form)', path: '/includes/api.php', type: 'application/x-www-form-urlencoded', start: 'actio' },
  { edge: 'api.php (multipart)', path: '/includes/api.php', type: 'multipart/form-data; boundary=XyZ', start: '--XyZ' },
]

async function listening(t: Test, options: { requestTimeoutMs?: number } = {}) {
  const { lines, stream } = captureLogs()
  const test = await buildTestApp(t, {}, undefined, { logger: { ...loggerOptions('info'), stream } })
  if (options.requestTimeoutMs !== undefined) {
    // REQUEST_TIMEOUT_MS (30 s), shortened: Node checks its connections every interval (set when
    // it starts listening) against both timeouts, and Fastify's clientError handler answers 408.
    const timeout = options.requestTimeoutMs
    Object.assign(test.app.server, { requestTimeout: timeout, headersTimeout: timeout, connectionsCheckingInterval: 100 })
  }
  const base = await test.app.listen({ port: 0, host: '127.0.0.1' })
  // The admin is remembered after a first call: the truncated request below reaches its body.
  t.equal((await fetch(`${base}/oauth/credentials`, { headers: { authorization: basic(test.admin) } })).status, 200)
  lines.length = 0
  return { test, base, port: Number(new URL(base).port), lines }
}

/**
 * Sends the head and the first bytes of a body 100 bytes long, then, once the server reads the
 * body, `end`s the connection its way. Resolves, once the server has answered the request (to
 * nobody), with the status it chose and the bytes the client received.
 */
async function truncated(test: TestApp, port: number, edge: (typeof EDGES)[number], end: (socket: net.Socket) => void) {
  const arrived = new Promise<[IncomingMessage, ServerResponse]>((resolve) =>
    test.app.server.once('request', (request: IncomingMessage, response: ServerResponse) => resolve([request, response])),
  )
  const socket = net.connect(port, '127.0.0.1')
  socket.on('error', () => {})
  const received: Buffer[] = []
  socket.on('data', (chunk: Buffer) => received.push(chunk))
  const closed = new Promise((resolve) => socket.once('close', resolve))
  socket.write(
    [
      `POST ${edge.path} HTTP/1.1`,
      'Host: 127.0.0.1',
      `Authorization: ${basic(test.admin)}`,
      `Content-Type: ${edge.type}`,
      'Content-Length: 100',
      '',
      edge.start,
    ].join('\r\n'),
  )
  const [request, response] = await arrived
  // Past the access checks: Fastify's body parser (or the multipart plugin) is reading the body.
  await until(() => request.listenerCount('data') > 0 || request.listenerCount('readable') > 0)
  end(socket)
  await closed
  // The body fails once the socket has closed; the edge's error handler then sets the status.
  await until(() => response.statusCode !== 200)
  await new Promise((resolve) => setTimeout(resolve, 50))
  return { status: response.statusCode, received: Buffer.concat(received).toString('latin1') }
}

async function until(condition: () => boolean) {
  for (const started = Date.now(); !condition(); ) {
    if (Date.now() - started > 5_000) throw new Error(`still waiting for ${condition.toString()}`)
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
}

/** The oauth_database_up gauge as /metrics shows it. */
async function databaseUp(base: string): Promise<number> {
  return Number(/^oauth_database_up (\S+)$/m.exec(await (await fetch(`${base}/metrics`)).text())?.[1])
}

async function stillServed(t: Test, test: TestApp, base: string, name: string) {
  const rest = await fetch(`${base}/oauth/credentials`, {
    method: 'POST',
    headers: { authorization: basic(test.admin), 'content-type': 'application/json' },
    body: JSON.stringify({ ...newCredential, name }),
  })
  t.equal(rest.status, 201, 'the next REST request is served')
  const legacy = await fetch(`${base}/includes/api.php`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      action: 'ListOAuthCredentials',
      identifier: test.admin.identifier,
      secret: test.admin.secret,
      responsetype: 'json',
    }).toString(),
  })
  t.equal(legacy.status, 200, 'and the next api.php request')
  t.match(await legacy.json(), { result: 'success' })
}

function noOutage(t: Test, lines: string[]) {
  const logged = lines.map((line) => JSON.parse(line) as LogLine)
  t.same(
    logged.filter((line) => line.msg === 'database lost' || line.msg === 'database back'),
    [],
    'no "database lost" line',
  )
  t.same(
    logged.filter((line) => line.level >= 50),
    [],
    'nothing logged as a server error',
  )
}

const ENDINGS = [
  { name: 'resets the connection', end: (socket: net.Socket) => socket.resetAndDestroy() },
  { name: 'closes the connection', end: (socket: net.Socket) => socket.destroy() },
  { name: 'is too slow, and cut off with a 408', end: () => {}, requestTimeoutMs: 300 },
]

for (const { name, end, requestTimeoutMs } of ENDINGS) {
  for (const edge of EDGES) {
    t.test(`${edge.edge}: a client that ${name} mid-body is not a database outage`, async (t) => {
      const { test, base, port, lines } = await listening(t, { requestTimeoutMs })
      const { status, received } = await truncated(test, port, edge, end)
      if (requestTimeoutMs !== undefined) t.match(received, /^HTTP\/1\.1 408 /, 'the client is answered 408')
      t.equal(status, 400, 'the request is answered as a client error')
      t.equal(test.app.database.availability.available, true, 'the database is still known to answer')
      t.equal(await databaseUp(base), 1, 'oauth_database_up stays 1')
      noOutage(t, lines)
      await stillServed(t, test, base, `after a client that ${name}`)
      t.equal(test.app.database.availability.available, true, 'and still known to answer')
    })
  }
}

t.test('the rule both edges classify by: only database work may be an outage', async (t) => {
  const lost = Object.assign(new Error('terminating connection due to administrator command'), { code: '57P01' })
  const aborted = Object.assign(new Error('aborted'), { code: 'ECONNRESET', statusCode: 400 })
  t.same(failureOf(lost), { kind: 'unavailable', reason: '57P01' }, 'a database error: 503, whether or not its client still waits')
  t.same(failureOf(new Error('x', { cause: lost })), { kind: 'unavailable', reason: '57P01' }, 'wrapped too')
  t.same(failureOf(aborted), { kind: 'request', status: 400 }, 'a body cut short: 400')
  const slow = Object.assign(new Error('Request timeout'), { code: 'ETIMEDOUT', statusCode: 408 })
  t.same(failureOf(slow), { kind: 'request', status: 408 }, 'a 4xx keeps its status')
  t.same(failureOf(new TypeError('a bug')), { kind: 'internal' }, 'a bug is a bug')
  const server = Object.assign(new Error('x'), { code: 'ECONNRESET', statusCode: 500 })
  t.same(failureOf(server), { kind: 'unavailable', reason: 'ECONNRESET' }, 'a 5xx is not the request\'s fault')
})
