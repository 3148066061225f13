import { randomBytes } from 'node:crypto'
import t from 'tap'
import { startOtlpReceiver } from './helpers/otlp.js'

/*
 * Traces end to end, in this process: an OTLP/HTTP receiver (JSON encoding) on a local port,
 * the SDK started the way server.ts starts it (before Fastify and pg are loaded: everything
 * else is imported dynamically below), real requests, then the spans as the receiver got them.
 */

interface OtlpValue {
  stringValue?: string
  intValue?: string | number
  boolValue?: boolean
  doubleValue?: number
  arrayValue?: { values: OtlpValue[] }
}
interface OtlpSpan {
  traceId: string
  spanId: string
  parentSpanId?: string
  name: string
  kind: number
  attributes?: { key: string; value: OtlpValue }[]
}
interface OtlpExport {
  resourceSpans: { resource?: { attributes?: { key: string; value: OtlpValue }[] }; scopeSpans: { spans: OtlpSpan[] }[] }[]
}
const SPAN_KIND = { SERVER: 2, CLIENT: 3 }

t.test('traces', async (t) => {
  const { url, received } = await startOtlpReceiver(t)
  process.env.OTEL_EXPORTER_OTLP_ENDPOINT = url
  process.env.OTEL_EXPORTER_OTLP_PROTOCOL = 'http/json'
  process.env.OTEL_SERVICE_NAME = 'oauth-tracing-test'
  process.env.OTEL_BSP_SCHEDULE_DELAY = '100'

  const { tracingRequested } = await import('../src/observability/tracing.js')
  const { stopTracing } = await import('../src/observability/start-tracing.js')
  const { buildTestApp } = await import('./helpers/app.js')
  const { basic } = await import('./helpers/rest.js')
  const { hashSecret } = await import('../src/secrets.js')

  t.test('tracing is off unless the OTEL_* variables ask for it', async (t) => {
    t.notOk(tracingRequested({}), 'off by default')
    t.ok(tracingRequested(process.env), 'on: OTEL_EXPORTER_OTLP_ENDPOINT is set')
    t.ok(tracingRequested({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://collector:4318/v1/traces' }))
    t.ok(tracingRequested({ OTEL_TRACES_EXPORTER: 'console' }))
    t.notOk(tracingRequested({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318', OTEL_SDK_DISABLED: 'true' }))
    t.notOk(tracingRequested({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318', OTEL_TRACES_EXPORTER: 'none' }))
  })

  t.test('a PATCH, a legacy update and a legacy GET: server spans by route, statement spans under them, caller context kept, no secrets', async (t) => {
    const test = await buildTestApp(t)
    const base = await test.app.listen({ port: 0, host: '127.0.0.1' })
    const caller = { identifier: test.admin.identifier, secret: test.admin.secret }
    const { credential, clientSecret } = await test.app.credentials.create(
      { name: 'traced', grantType: 'authorization_code', scopes: ['openid'] },
      { actor: 'test', source: 'rest' },
    )

    const callerTrace = randomBytes(16).toString('hex')
    const callerSpan = randomBytes(8).toString('hex')
    const patched = await fetch(`${base}/oauth/credentials/${credential.credentialId}`, {
      method: 'PATCH',
      headers: {
        authorization: basic(caller),
        'content-type': 'application/merge-patch+json',
        traceparent: `00-${callerTrace}-${callerSpan}-01`,
      },
      body: JSON.stringify({ name: 'patched' }),
    })
    t.equal(patched.status, 200)
    const updated = await fetch(`${base}/includes/api.php`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        action: 'UpdateOAuthCredential',
        username: caller.identifier,
        password: caller.secret,
        credentialId: String(credential.credentialId),
        name: 'updated',
        resetSecret: '1',
        responsetype: 'json',
      }).toString(),
    })
    const answer = (await updated.json()) as { result: string; newClientSecret: string }
    t.equal(answer.result, 'success')
    // api.php takes GET too, secrets in the query string; a client secret may stray there as well.
    const query = new URLSearchParams({ action: 'ListOAuthCredentials', identifier: caller.identifier, secret: caller.secret, clientSecret })
    const listed = await fetch(`${base}/includes/api.php?${query.toString()}`)
    t.equal(listed.status, 200)
    t.equal((await fetch(`${base}/readyz`)).status, 200, 'a readiness probe, which pings the database')
    await test.app.close()
    await stopTracing() // flushes what is buffered

    t.ok(received.every((request) => request.path === '/v1/traces'), 'traces only: no OTLP metrics or logs')
    const exports = received.map((request) => JSON.parse(request.body) as OtlpExport)
    const spans = exports.flatMap((batch) => batch.resourceSpans.flatMap((resource) => resource.scopeSpans.flatMap((scope) => scope.spans)))
    const serviceNames = exports.flatMap((batch) =>
      batch.resourceSpans.map((resource) => resource.resource?.attributes?.find((attribute) => attribute.key === 'service.name')?.value.stringValue),
    )
    t.same([...new Set(serviceNames)], ['oauth-tracing-test'], 'OTEL_SERVICE_NAME names the service')

    const descendants = (root: OtlpSpan): OtlpSpan[] => {
      const children = spans.filter((span) => span.traceId === root.traceId && span.parentSpanId === root.spanId)
      return children.flatMap((child) => [child, ...descendants(child)])
    }
    const serverSpan = (name: string) => spans.find((span) => span.name === name && span.kind === SPAN_KIND.SERVER)
    // Hook spans are named after their plugin: an anonymous one would be named by its source text.
    t.same(spans.filter((span) => /[{}()]|=>/.test(span.name)).map((span) => span.name), [], 'no span named by source text')

    const patch = serverSpan('PATCH /oauth/credentials/:credentialId')
    t.ok(patch, 'the PATCH has a server span named by its route')
    t.equal(patch?.traceId, callerTrace, "the caller's traceparent: same trace")
    t.equal(patch?.parentSpanId, callerSpan, "the caller's span is its parent")
    const legacy = serverSpan('POST /includes/api.php')
    t.ok(legacy, 'the legacy update has a server span named by its route')
    t.not(legacy?.traceId, callerTrace, 'without a traceparent, a trace of its own')
    const get = serverSpan('GET /includes/api.php')
    const attribute = (key: string) => get?.attributes?.find((attribute) => attribute.key === key)?.value.stringValue
    t.equal(attribute('url.path'), '/includes/api.php', 'url.path: the path alone')
    t.equal(
      attribute('url.query'),
      `action=ListOAuthCredentials&identifier=${caller.identifier}&secret=[REDACTED]&clientSecret=[REDACTED]`,
      'url.query: the query, its secrets masked',
    )

    for (const root of [patch, legacy]) {
      if (!root) continue
      const statements = descendants(root).filter((span) => span.kind === SPAN_KIND.CLIENT && span.name.startsWith('credential.'))
      t.same(
        statements.map((span) => span.name).sort(),
        ['credential.read_by_id', 'credential.write'],
        `${root.name}: one span per statement, under the request`,
      )
      if (process.env.TEST_DATABASE_URL) {
        const driver = descendants(root).filter((span) => span.name.startsWith('pg.query'))
        t.ok(driver.length >= 2, `${root.name}: the pg instrumentation's spans too, on PostgreSQL`)
      }
    }

    const alone = spans.filter((span) => span.kind === SPAN_KIND.CLIENT && !span.parentSpanId).map((span) => span.name)
    t.same(alone, [], "no statement starts a trace of its own: not the probe's ping, not the start's or the test's own calls")

    const everything = received.map((request) => request.body).join('\n')
    const secrets = {
      'API secret': caller.secret,
      'Authorization header': basic(caller),
      'client secret': clientSecret,
      'client secret hash': hashSecret(clientSecret),
      'new client secret': answer.newClientSecret,
      'new client secret hash': hashSecret(answer.newClientSecret),
      'API secret hash': hashSecret(caller.secret),
    }
    for (const [what, value] of Object.entries(secrets)) {
      t.notOk(everything.includes(value), `no ${what} in any exported span`)
      t.notOk(everything.includes(encodeURIComponent(value)), `no ${what}, URL-encoded, in any exported span`)
    }
    t.notOk(/authorization/i.test(everything), 'no Authorization header attribute')
  })
})
