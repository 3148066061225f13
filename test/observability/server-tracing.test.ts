import t from 'tap'
import { freshDatabaseEnv } from '../helpers/app.js'
import { startOtlpReceiver } from '../helpers/otlp.js'
import { startServerProcess } from '../helpers/server-process.js'

// The real server process with OTEL_EXPORTER_OTLP_ENDPOINT: server.ts starts the SDK before the
// app, and spans still buffered at SIGTERM reach the collector before the process exits.
t.test('server.ts exports a request span to the OTLP endpoint, and flushes at SIGTERM', async (t) => {
  const collector = await startOtlpReceiver(t)
  const paths = () => collector.received.map((request) => request.path)
  const bodies = () => collector.received.map((request) => request.body)

  const admin = { identifier: 'traced-admin', secret: 'a-bootstrap-secret-of-at-least-32-characters' }
  const env: Record<string, string> = {
    ...(await freshDatabaseEnv(t)),
    API_BOOTSTRAP_IDENTIFIER: admin.identifier,
    API_BOOTSTRAP_SECRET: admin.secret,
    OTEL_EXPORTER_OTLP_ENDPOINT: collector.url,
    OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
    // Longer than the test: only the flush at shutdown can deliver the span.
    OTEL_BSP_SCHEDULE_DELAY: '600000',
  }
  const server = startServerProcess(t, env)
  const [, url] = (await server.waitFor(/^Server listening at (http:\S+)/)) as RegExpExecArray & [string, string]

  const answer = await fetch(`${url}/includes/api.php`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ action: 'ListOAuthCredentials', username: admin.identifier, password: admin.secret, responsetype: 'json' }),
  })
  t.equal(answer.status, 200)
  t.equal(paths().length, 0, 'nothing exported yet: the batch waits')

  server.child.kill('SIGTERM')
  const [code] = await server.exited
  t.equal(code, 0, 'a clean exit')
  t.ok(paths().length > 0 && paths().every((path) => path === '/v1/traces'), 'spans were sent to /v1/traces at shutdown')
  const names = bodies().flatMap((body) => [...body.matchAll(/"name":"([^"]+)"/g)].map((match) => match[1]))
  t.ok(names.includes('POST /includes/api.php'), 'the request span, named by its route')
  t.notOk(bodies().join('').includes(admin.secret), 'without the secret')
})
