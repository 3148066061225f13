import http from 'node:http'
import { setTimeout } from 'node:timers/promises'
import parsePrometheus, { type MetricFamily, type Sample } from 'parse-prometheus-text-format'
import t from 'tap'
import { freePort } from '../../bench/target.js'
import { metrics } from '../../src/observability/metrics.js'
import { basic } from '../helpers/rest.js'
import { buildTestApp, type TestApp } from '../helpers/app.js'

/**
 * A scrape, parsed. The parser folds a histogram that has labels into one sample (its
 * flattenMetrics), so values are read from a second parse with the histograms' TYPE lines left
 * out: there each histogram's `_count`, `_sum` and `_bucket` series are plain samples, as on the wire.
 */
class Scrape {
  readonly families: MetricFamily[]
  readonly #samples: MetricFamily[]

  constructor(text: string) {
    this.families = parsePrometheus(text)
    this.#samples = parsePrometheus(text.replace(/^# TYPE \S+ histogram\n/gm, ''))
  }

  family(name: string): MetricFamily | undefined {
    return this.families.find((family) => family.name === name)
  }

  samples(name: string): Sample[] {
    // Untyped, each series' lines start a family of their own: gather them by name.
    return this.#samples.filter((family) => family.name === name).flatMap((family) => family.metrics)
  }

  /** A counter's or gauge's value (for a histogram, name its `_count`); 0 before the series exists. */
  value(name: string, labels: Record<string, string> = {}): number {
    const sample = this.samples(name).find((candidate) => Object.entries(labels).every(([key, value]) => candidate.labels?.[key] === value))
    return Number(sample?.value ?? 0)
  }
}

async function scrape(base: string): Promise<Scrape> {
  const response = await fetch(`${base}/metrics`)
  if (response.status !== 200) throw new Error(`/metrics answered ${response.status}`)
  if (!/^text\/plain; version=0\.0\.4/.test(response.headers.get('content-type') ?? '')) throw new Error('not the text format')
  return new Scrape(await response.text())
}

async function listen(test: TestApp): Promise<string> {
  return test.app.listen({ port: 0, host: '127.0.0.1' })
}

function legacy(base: string, form: Record<string, string>) {
  return fetch(`${base}/includes/api.php`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ responsetype: 'json', ...form }).toString(),
  })
}

t.test('after real traffic, /metrics shows each counter moved by what happened', async (t) => {
  const test = await buildTestApp(t, { RATE_LIMIT_FAILED_AUTH_PER_IP: '3', RATE_LIMIT_PER_IP: '20' })
  const base = await listen(test)
  const caller = { identifier: test.admin.identifier, secret: test.admin.secret }
  const before = await scrape(base)

  const created = await legacy(base, {
    ...caller,
    action: 'CreateOAuthCredential',
    grantType: 'authorization_code',
    name: 'metrics',
    scope: 'openid',
  }).then((response) => response.json() as Promise<{ credentialId: string; clientIdentifier: string; clientSecret: string }>)
  for (const name of ['one', 'two']) {
    const updated = await legacy(base, { ...caller, action: 'UpdateOAuthCredential', credentialId: created.credentialId, name })
    t.equal(updated.status, 200)
  }
  const patched = await fetch(`${base}/oauth/credentials/${created.credentialId}`, {
    method: 'PATCH',
    headers: { authorization: basic(caller), 'content-type': 'application/merge-patch+json' },
    body: JSON.stringify({ name: 'three' }),
  })
  t.equal(patched.status, 200)
  t.equal((await legacy(base, { ...caller, secret: 'wrong', action: 'ListOAuthCredentials' })).status, 403)
  t.equal((await fetch(`${base}/oauth/credentials`)).status, 401)
  t.equal((await fetch(`${base}/no/such/route/${Math.random()}`)).status, 404)
  for (const secret of [created.clientSecret, created.clientSecret, 'wrong']) {
    await fetch(`${base}/oauth/credentials/authenticate`, {
      method: 'POST',
      headers: { authorization: basic(caller), 'content-type': 'application/json' },
      body: JSON.stringify({ clientIdentifier: created.clientIdentifier, clientSecret: secret }),
    })
  }

  // Rate limits, from addresses of their own (inject), so the traffic above is not affected.
  const fromAddress = (remoteAddress: string, secret: string) =>
    test.app.inject({
      method: 'POST',
      url: '/includes/api.php',
      remoteAddress,
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: new URLSearchParams({ action: 'ListOAuthCredentials', responsetype: 'json', identifier: caller.identifier, secret }).toString(),
    })
  for (let n = 0; n < 3; n++) t.equal((await fromAddress('10.0.0.1', 'wrong')).statusCode, 403)
  t.equal((await fromAddress('10.0.0.1', caller.secret)).statusCode, 429, 'the failure budget is used up')
  for (let n = 0; n < 20; n++) await fromAddress('10.0.0.2', caller.secret)
  t.equal((await fromAddress('10.0.0.2', caller.secret)).statusCode, 429, 'the address used its 20 requests')
  const fenced = await test.app.apiClients.create({ allowedIps: ['192.0.2.7'] })
  const offList = await test.app.inject({ url: '/oauth/credentials', remoteAddress: '10.0.0.3', headers: { authorization: basic(fenced) } })
  t.equal(offList.statusCode, 403, 'not from its allowed address')
  // An outsider's guesses at identifiers, known or not, in use or not, move no look-up count.
  for (const identifier of ['made-up', caller.identifier]) {
    const guess = await test.app.inject({ url: '/oauth/credentials', remoteAddress: '10.0.0.5', headers: { authorization: basic({ identifier, secret: 'wrong' }) } })
    t.equal(guess.statusCode, 401, `a REST guess at ${identifier}`)
  }
  for (const identifier of ['made-up', caller.identifier, 'made-up-too']) {
    const guess = await test.app.inject({
      method: 'POST',
      url: '/includes/api.php',
      remoteAddress: '10.0.0.4',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: new URLSearchParams({ identifier }).toString(),
    })
    t.equal(guess.statusCode, 400, `a guess at ${identifier}: no action`)
  }

  const after = await scrape(base)
  const moved = (name: string, labels: Record<string, string> = {}) => after.value(name, labels) - before.value(name, labels)

  t.equal(moved('oauth_credential_changes_total', { action: 'create', source: 'legacy' }), 1, 'one create over api.php')
  t.equal(moved('oauth_credential_changes_total', { action: 'update', source: 'legacy' }), 2, 'two legacy updates')
  t.equal(moved('oauth_credential_changes_total', { action: 'update', source: 'rest' }), 1, 'one PATCH')
  t.equal(moved('oauth_failed_authentications_total', { edge: 'legacy', reason: 'failed' }), 4, 'a wrong secret on api.php, four times')
  t.equal(moved('oauth_rate_limit_refusals_total', { kind: 'failed_authentications' }), 1)
  t.equal(moved('oauth_rate_limit_refusals_total', { kind: 'address' }), 1)
  t.equal(moved('oauth_rate_limit_refusals_total', { kind: 'api_credential' }), 0)
  t.equal(moved('oauth_failed_authentications_total', { edge: 'rest', reason: 'missing' }), 1, 'no credentials on REST')
  t.equal(moved('oauth_failed_authentications_total', { edge: 'rest', reason: 'address' }), 1, 'an address off the allow-list')

  // api.php: create and two updates, then 20 from 10.0.0.2; refused: one wrong secret here and
  // three from 10.0.0.1 (403), and one from each of those addresses over its limit (429).
  const legacyAnswers = (status: string) =>
    moved('oauth_http_request_duration_seconds_count', { route: '/includes/api.php', method: 'POST', status_code: status })
  t.equal(legacyAnswers('200'), 23, 'api.php answers with 200, by route template')
  t.equal(legacyAnswers('403'), 4)
  t.equal(legacyAnswers('429'), 2)
  t.equal(
    moved('oauth_http_request_duration_seconds_count', { route: '/oauth/credentials/:credentialId', method: 'PATCH', status_code: '200' }),
    1,
    'the PATCH under its route template, not its URL',
  )
  t.equal(moved('oauth_http_request_duration_seconds_count', { route: 'unmatched', method: 'GET', status_code: '404' }), 1)
  t.notOk(
    after.samples('oauth_http_request_duration_seconds_count').some((sample) => sample.labels?.route?.startsWith('/no/such')),
    'an unknown URL mints no series of its own',
  )

  // Each update reads and writes once; the create inserts once.
  t.equal(moved('oauth_db_statement_duration_seconds_count', { statement: 'credential.write', outcome: 'ok' }), 3)
  t.equal(moved('oauth_db_statement_duration_seconds_count', { statement: 'credential.insert', outcome: 'ok' }), 1)
  t.equal(moved('oauth_db_statement_duration_seconds_count', { statement: 'credential.read_by_id', outcome: 'ok' }), 3)
  // Client authentication: read once, then twice from memory (the wrong secret too).
  t.equal(moved('oauth_auth_cache_lookups_total', { cache: 'client_credential', result: 'miss' }), 1)
  t.equal(moved('oauth_auth_cache_lookups_total', { cache: 'client_credential', result: 'hit' }), 2)
  // Callers let in: the admin's create, two updates, the PATCH, the three authentications and
  // the 20 calls from 10.0.0.2 within its limit. Each counts once (from memory or read); wrong
  // secrets, guesses and the fenced caller from off its list do not.
  const apiLookups =
    moved('oauth_auth_cache_lookups_total', { cache: 'api_credential', result: 'hit' }) +
    moved('oauth_auth_cache_lookups_total', { cache: 'api_credential', result: 'miss' })
  t.equal(apiLookups, 27, 'every call let in, once')

  t.equal(after.value('oauth_http_requests_in_flight'), 1, 'in flight: the scrape itself')
  t.equal(after.value('oauth_database_up'), 1)
  t.equal(after.value('oauth_db_pool_connections') >= 1, true, 'the pool holds a connection')
  t.equal(after.value('oauth_db_pool_waiting_queries'), 0)
  t.equal(after.family('oauth_db_pool_idle_connections')?.type, 'GAUGE')
  t.ok(after.value('process_cpu_user_seconds_total') > 0, 'default process metrics')
  t.ok(after.family('nodejs_eventloop_lag_seconds'), 'default Node.js metrics')
})

t.test('a request its client gives up on is no longer in flight', async (t) => {
  const test = await buildTestApp(t)
  const base = await listen(test)
  const inFlight = async () => (await scrape(base)).value('oauth_http_requests_in_flight')
  /** The gauge once it shows `expected`, or after 2 s: the server sees the client's moves a moment later. */
  const inFlightOnceAt = async (expected: number) => {
    for (let waited = 0; (await inFlight()) !== expected && waited < 2_000; waited += 20) await setTimeout(20)
    return inFlight()
  }
  t.equal(await inFlight(), 1, 'the scrape itself')
  // Headers and half a body, then the client goes away.
  const upload = http.request(`${base}/includes/api.php`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', 'content-length': 100 },
  })
  upload.on('error', () => {})
  upload.write('action=ListOAuthCredentials&')
  t.equal(await inFlightOnceAt(2), 2, 'in flight while its body is coming')
  upload.destroy()
  t.equal(await inFlightOnceAt(1), 1, 'not after its client went away')
})

t.test('METRICS_PORT: /metrics on a listener of its own; optimistic retries; the per-caller limit', async (t) => {
  const port = await freePort()
  const test = await buildTestApp(t, { METRICS_PORT: String(port), RATE_LIMIT_PER_CREDENTIAL: '1' })
  const base = await listen(test)
  const metricsBase = `http://127.0.0.1:${port}`
  t.equal((await fetch(`${base}/metrics`)).status, 404, 'not on the main port')
  t.equal((await fetch(`${metricsBase}/other`)).status, 404, 'nothing else on the metrics port')
  const before = await scrape(metricsBase)

  const actor = { actor: 'test', source: 'rest' as const }
  const { credential } = await test.app.credentials.create({ name: 'contended', grantType: 'authorization_code', scopes: ['openid'] }, actor)
  const writers = 8
  await Promise.all(
    Array.from({ length: writers }, (_, n) => test.app.credentials.update({ credentialId: credential.credentialId }, { name: `w${n}` }, actor)),
  )
  const list = () => legacy(base, { identifier: test.admin.identifier, secret: test.admin.secret, action: 'ListOAuthCredentials' })
  t.equal((await list()).status, 200)
  t.equal((await list()).status, 429, 'the API credential used its one request')

  const after = await scrape(metricsBase)
  const moved = (name: string, labels: Record<string, string> = {}) => after.value(name, labels) - before.value(name, labels)
  t.equal(moved('oauth_credential_changes_total', { action: 'create', source: 'rest' }), 1)
  t.equal(moved('oauth_credential_changes_total', { action: 'update', source: 'rest' }), writers)
  const writes = moved('oauth_db_statement_duration_seconds_count', { statement: 'credential.write', outcome: 'ok' })
  t.ok(moved('oauth_credential_write_retries_total') > 0, 'some writers found the credential changed')
  t.equal(moved('oauth_credential_write_retries_total'), writes - writers, 'one retry per write that found a newer version')
  t.equal(moved('oauth_rate_limit_refusals_total', { kind: 'api_credential' }), 1)
  // The metrics listener's own requests are counted and timed like the main listener's.
  t.equal(after.value('oauth_http_requests_in_flight'), 1, 'in flight: the scrape on the metrics listener itself')
  t.equal(moved('oauth_http_request_duration_seconds_count', { route: '/metrics', method: 'GET', status_code: '200' }), 1, 'the scrape before, answered')
  t.ok(after.value('oauth_http_request_duration_seconds_count', { route: 'unmatched', method: 'GET', status_code: '404' }) >= 1, 'and the request for /other')

  await test.app.close()
  await t.rejects(fetch(`${metricsBase}/metrics`), 'the metrics listener closes with the app')
})

t.test('METRICS_ENABLED=false: no /metrics, and nothing recorded', async (t) => {
  const test = await buildTestApp(t, { METRICS_ENABLED: 'false' })
  t.teardown(() => metrics.setEnabled(true))
  const base = await listen(test)
  const read = async () => new Scrape((await metrics.scrape()).text)
  const before = await read()
  t.equal((await fetch(`${base}/metrics`)).status, 404)
  await legacy(base, { identifier: test.admin.identifier, secret: test.admin.secret, action: 'CreateOAuthCredential', grantType: 'authorization_code', name: 'x' })
  const after = await read()
  t.equal(after.value('oauth_credential_changes_total', { action: 'create', source: 'legacy' }), before.value('oauth_credential_changes_total', { action: 'create', source: 'legacy' }))
  t.equal(
    after.value('oauth_http_request_duration_seconds_count', { route: '/includes/api.php', method: 'POST', status_code: '200' }),
    before.value('oauth_http_request_duration_seconds_count', { route: '/includes/api.php', method: 'POST', status_code: '200' }),
  )
})

t.test('a histogram in the scrape: cumulative buckets (a value on a bound counts in it), +Inf, sum and count', async (t) => {
  const statement = `test.buckets_${process.pid}`
  for (const seconds of [0.0005, 0.003, 0.003, 3]) metrics.statementFinished(statement, seconds, true)
  metrics.statementFinished(statement, 0.01, false)
  const { text } = await metrics.scrape()
  const lines = text.split('\n').filter((line) => line.includes(`statement="${statement}"`))
  const ok = (suffix: string, le?: string) =>
    `oauth_db_statement_duration_seconds_${suffix}{${le === undefined ? '' : `le="${le}",`}statement="${statement}",outcome="ok"}`
  t.ok(lines.includes(`${ok('bucket', '0.0005')} 1`), 'the value on the bound')
  t.ok(lines.includes(`${ok('bucket', '0.0025')} 1`))
  t.ok(lines.includes(`${ok('bucket', '0.005')} 3`))
  t.ok(lines.includes(`${ok('bucket', '2.5')} 3`), 'the largest bound')
  t.ok(lines.includes(`${ok('bucket', '+Inf')} 4`))
  t.ok(lines.includes(`${ok('sum')} 3.0065`))
  t.ok(lines.includes(`${ok('count')} 4`))
  t.equal(lines.filter((line) => line.startsWith('oauth_db_statement_duration_seconds_bucket{') && line.includes('outcome="ok"')).length, 13)
  t.ok(lines.includes(`oauth_db_statement_duration_seconds_count{statement="${statement}",outcome="error"} 1`), 'a series per outcome')
})
