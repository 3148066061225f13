import t from 'tap'
import { loggerOptions } from '../../src/logging.js'
import { buildTestApp } from '../helpers/app.js'
import { callLegacy } from '../helpers/legacy.js'
import { captureLogs } from '../helpers/logs.js'
import { callRest, createCredential } from '../helpers/rest.js'

t.test('one log line per request, and no secret in any log line', async (t) => {
  const { lines, stream } = captureLogs()
  // The service's own logger settings, at the most talkative level, into memory.
  const options = loggerOptions('trace')
  const test = await buildTestApp(t, {}, undefined, { logger: { ...options, stream } })
  lines.length = 0 // start-up lines

  const created = await callLegacy(test, {
    action: 'CreateOAuthCredential',
    grantType: 'authorization_code',
    name: 'Logged',
    scope: 'openid',
    responsetype: 'json',
  })
  const clientSecret = created.data.clientSecret as string
  const reset = await callLegacy(test, { action: 'UpdateOAuthCredential', credentialId: '1', resetSecret: '1', responsetype: 'json' })
  const newClientSecret = reset.data.newClientSecret as string
  t.ok(clientSecret && newClientSecret, 'both secrets were issued')

  // Secrets in the query string, an Authorization header, a wrong password, a JSON body.
  const basic = `Basic ${Buffer.from(`${test.admin.identifier}:${test.admin.secret}`).toString('base64')}`
  const viaQuery = await test.app.inject({
    method: 'GET',
    url: `/includes/api.php?action=ListOAuthCredentials&identifier=${test.admin.identifier}&secret=${encodeURIComponent(test.admin.secret)}&responsetype=json`,
    headers: { authorization: basic, 'x-request-id': 'trace-me-1' },
  })
  t.equal(viaQuery.statusCode, 200)
  const wrong = await callLegacy(test, { action: 'ListOAuthCredentials', password: 'hunter2-not-the-secret' })
  t.equal(wrong.status, 403)
  const json = await test.app.inject({
    method: 'POST',
    url: '/includes/api.php',
    payload: { action: 'UpdateOAuthCredential', username: test.admin.identifier, password: test.admin.secret, credentialId: 1, description: 'x' },
  })
  t.equal(json.statusCode, 200)
  const missing = await test.app.inject({ method: 'GET', url: `/nowhere?client_secret=${encodeURIComponent(newClientSecret)}&api_key=K1&access_key=K2&apiKey=K3&page=2` })
  t.equal(missing.statusCode, 404)

  const entries = lines.map((line) => JSON.parse(line) as Record<string, unknown>)
  const completed = entries.filter((entry) => entry.msg === 'request completed')
  t.equal(completed.length, 6, 'one line per request')
  const operational = entries.filter((entry) => Number(entry.level) >= 30)
  t.equal(operational.length, completed.length, 'and nothing else at info level or above for these requests')
  const arrivals = entries.filter((entry) => entry.msg === 'incoming request')
  t.equal(arrivals.length, 6, 'at debug level, each request is also logged as it arrives')
  t.ok(arrivals.every((entry) => entry.level === 20), 'only at debug level')
  const [createLine, , queryLine, wrongLine, , missingLine] = completed
  t.match(createLine, {
    level: 30,
    reqId: String,
    method: 'POST',
    route: '/includes/api.php',
    statusCode: 200,
    responseTime: Number,
    actor: test.admin.identifier,
  })
  t.match(queryLine, { reqId: 'trace-me-1', method: 'GET', route: '/includes/api.php', actor: test.admin.identifier })
  t.equal(queryLine?.url, `/includes/api.php?action=ListOAuthCredentials&identifier=${test.admin.identifier}&secret=[REDACTED]&responsetype=json`)
  t.match(wrongLine, { statusCode: 403, route: '/includes/api.php' })
  t.notOk(wrongLine && 'actor' in wrongLine, 'no actor when authentication failed')
  t.match(missingLine, { statusCode: 404, route: null, url: '/nowhere?client_secret=[REDACTED]&api_key=[REDACTED]&access_key=[REDACTED]&apiKey=[REDACTED]&page=2' })
  t.equal(viaQuery.headers['x-request-id'], 'trace-me-1', 'the logged id is the one the caller sees')
  t.equal(new Set(completed.map((entry) => entry.reqId)).size, 6, 'each request has its own id')

  const log = lines.join('\n')
  const secrets = {
    'API secret': test.admin.secret,
    'API secret, URL-encoded': encodeURIComponent(test.admin.secret),
    'client secret': clientSecret,
    'new client secret': newClientSecret,
    'new client secret, URL-encoded': encodeURIComponent(newClientSecret),
    'wrong password': 'hunter2-not-the-secret',
    'Authorization header': basic.slice('Basic '.length),
  }
  for (const [what, secret] of Object.entries(secrets)) t.notOk(log.includes(secret), `no ${what} in the log`)
})

t.test('a write that fails in the database logs its error without the secret digests it carried', async (t) => {
  const { lines, stream } = captureLogs()
  const test = await buildTestApp(t, {}, undefined, { logger: { ...loggerOptions('info'), stream } })
  const { body: created } = await createCredential(test)
  const [stored] = await test.sql<{ secret_hash: string }>('SELECT secret_hash FROM credential WHERE id = $1', [created.credentialId])
  // A rotation with a grace period sends the current digest back as the previous one; the
  // audit insert then fails with an error the service does not expect (500).
  await test.sql(`CREATE FUNCTION audit_broken() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN RAISE EXCEPTION 'audit is broken'; END $$`)
  await test.sql('CREATE TRIGGER audit_broken BEFORE INSERT ON audit_event FOR EACH ROW EXECUTE FUNCTION audit_broken()')
  const rotated = await callRest(test, {
    method: 'POST',
    url: `/oauth/credentials/${created.credentialId}/secret`,
    body: { graceSeconds: 3600 },
  })
  t.equal(rotated.status, 500)
  const log = lines.join('\n')
  t.match(log, /audit is broken/, 'the error is logged')
  t.notOk(log.includes(stored?.secret_hash ?? 'no digest read'), 'without the stored digest')
})

t.test('probes and the metrics scrape are logged at debug while they answer below 400, so callers\' lines stay in view at info', async (t) => {
  const { lines, stream } = captureLogs()
  const test = await buildTestApp(t, {}, undefined, { logger: { ...loggerOptions('debug'), stream } })
  lines.length = 0
  for (const url of ['/healthz', '/readyz', '/metrics']) t.equal((await test.app.inject({ method: 'GET', url })).statusCode, 200, url)
  await callRest(test, { method: 'GET', url: '/oauth/credentials' })
  const completed = () => lines.map((line) => JSON.parse(line) as Record<string, unknown>).filter((entry) => entry.msg === 'request completed')
  t.same(
    completed().map((entry) => [entry.route, entry.level]),
    [['/healthz', 20], ['/readyz', 20], ['/metrics', 20], ['/oauth/credentials', 30]],
  )
  // A probe that fails is news: at info, as any request.
  lines.length = 0
  await test.app.database.close()
  t.equal((await test.app.inject({ method: 'GET', url: '/readyz' })).statusCode, 503)
  t.same(completed().map((entry) => [entry.route, entry.statusCode, entry.level]), [['/readyz', 503, 30]])
})
