import { once } from 'node:events'
import http from 'node:http'
import net from 'node:net'
import t from 'tap'
import { openDatabase } from '../../src/db/database.js'
import { freshDatabaseEnv } from '../helpers/app.js'
import { startServerProcess } from '../helpers/server-process.js'

// The real server process is stopped with SIGTERM while a client is still uploading a body.
t.test('SIGTERM: the in-flight request completes on its keep-alive connection, new connections are refused, exit 0 at once', async (t) => {
  const admin = { identifier: 'shutdown-admin', secret: 'a-bootstrap-secret-of-at-least-32-characters' }
  const env: Record<string, string> = {
    CLIENT_IDENTIFIER_PREFIX: 'TEST',
    // At debug level the server logs each request as it arrives: the test waits for that line.
    LOG_LEVEL: 'debug',
    API_BOOTSTRAP_IDENTIFIER: admin.identifier,
    API_BOOTSTRAP_SECRET: admin.secret,
    ...(await freshDatabaseEnv(t)),
  }
  const server = startServerProcess(t, env)
  const waitForLog = server.waitFor

  const [, url] = (await waitForLog(/^Server listening at (http:\S+)/)) as RegExpExecArray & [string, string]
  const { port } = new URL(url)

  // A client that has sent the headers and half of its body, then stalls; on a keep-alive
  // connection, as load balancers and HTTP/1.1 clients keep them.
  const body = new URLSearchParams({
    action: 'CreateOAuthCredential',
    username: admin.identifier,
    password: admin.secret,
    grantType: 'authorization_code',
    name: 'Created during shutdown',
    scope: 'clientarea:sso',
    responsetype: 'json',
  }).toString()
  const half = Math.floor(body.length / 2)
  const request = http.request(`${url}/includes/api.php`, {
    method: 'POST',
    agent: new http.Agent({ keepAlive: true }),
    headers: { 'content-type': 'application/x-www-form-urlencoded', 'content-length': Buffer.byteLength(body) },
  })
  const response = once(request, 'response') as Promise<[http.IncomingMessage]>
  request.write(body.slice(0, half))
  await waitForLog(/^incoming request$/)

  server.child.kill('SIGTERM')
  const signalled = Date.now()
  await waitForLog(/^shutting down$/)
  t.equal(await connectError(Number(port)), 'ECONNREFUSED', 'new connections are refused')

  request.end(body.slice(half))
  const [answer] = await response
  let text = ''
  for await (const chunk of answer) text += String(chunk)
  t.equal(answer.statusCode, 200, 'the in-flight request is answered')
  const answered = Date.now()
  t.match(JSON.parse(text), { result: 'success', credentialId: '1' })

  const [code, signal] = await server.exited
  t.same({ code, signal }, { code: 0, signal: null }, 'a clean exit')
  t.ok(Date.now() - signalled < 10_000, 'within 10 s of SIGTERM')
  t.ok(Date.now() - answered < 3_000, 'its keep-alive connection, idle once answered, does not hold the stop')
  // Log lines leave asynchronously: the last ones are flushed as the process exits.
  t.ok(await waitForLog(/^request completed$/), "the in-flight request's log line, written as the process stopped, is not lost")

  const check = await openDatabase(env.DATABASE_URL ? { url: env.DATABASE_URL } : { dataDir: env.DATA_DIR as string })
  t.teardown(() => check.close())
  const rows = await (await check.prisma()).$queryRaw<{ name: string }[]>`SELECT name FROM credential`
  t.same(rows, [{ name: 'Created during shutdown' }], 'its write was committed before the database closed')
})

/** Polls until connecting is refused or fails otherwise (the listening socket closes as shutdown starts); returns the code. */
async function connectError(port: number): Promise<string> {
  for (const deadline = Date.now() + 5000; Date.now() < deadline; ) {
    const socket = net.connect(port, '127.0.0.1')
    const outcome = await new Promise<string | null>((resolve) => {
      socket.once('connect', () => resolve(null))
      socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message))
    })
    socket.destroy()
    // A connection queued just as the listening socket closed is reset, not refused: try again.
    if (outcome && outcome !== 'ECONNRESET') return outcome
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  return 'still accepting after 5 s'
}
