import Fastify from 'fastify'
import t from 'tap'
import { loadConfig } from '../../src/config.js'
import limits, { RateLimited } from '../../src/limits/index.js'
import { buildTestApp, type TestApp } from '../helpers/app.js'
import { parseLegacyBody } from '../helpers/legacy.js'
import { callRest } from '../helpers/rest.js'

type Caller = { identifier: string; secret: string }

/** api.php from a given client address, as a given API credential. */
async function callFrom(test: TestApp, ip: string, caller: Partial<Caller>, form: Record<string, string> = {}) {
  const response = await test.app.inject({
    method: 'POST',
    url: '/includes/api.php',
    remoteAddress: ip,
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    payload: new URLSearchParams({ action: 'ListOAuthCredentials', responsetype: 'json', ...caller, ...form }).toString(),
  })
  return {
    status: response.statusCode,
    retryAfter: response.headers['retry-after'],
    contentType: String(response.headers['content-type']),
    data: parseLegacyBody(String(response.headers['content-type']), response.body),
  }
}

t.test('limits per address, per failed authentication and per API credential', async (t) => {
  // Each scenario below uses its own addresses and API credentials, so one app serves them all.
  const test = await buildTestApp(t, {
    RATE_LIMIT_FAILED_AUTH_PER_IP: '3',
    RATE_LIMIT_PER_CREDENTIAL: '3',
    RATE_LIMIT_PER_IP: '5',
  })
  const caller = async (identifier: string): Promise<Caller> => test.app.apiClients.create({ identifier })

  t.test('failed authentications use up an address\'s failure budget: then 429 with Retry-After', async (t) => {
    const good = await caller('failures')
    for (let attempt = 1; attempt <= 3; attempt++) {
      const wrong = await callFrom(test, '10.0.1.1', { identifier: good.identifier, secret: 'wrong' })
      t.equal(wrong.status, 403, `failure ${attempt} is still answered normally`)
      t.equal(wrong.data.message, 'Authentication Failed')
    }
    const refused = await callFrom(test, '10.0.1.1', good)
    t.equal(refused.status, 429, 'even the right secret is refused from that address now')
    t.same(refused.data, { result: 'error', message: 'Too many failed authentication attempts. Please try again later.' })
    const retryAfter = Number(refused.retryAfter)
    t.ok(retryAfter >= 1 && retryAfter <= 60, `Retry-After ${refused.retryAfter} is within the window`)
    t.equal((await callFrom(test, '10.0.1.2', good)).status, 200, 'another address is not affected')

    const missing = await callFrom(test, '10.0.1.3', { identifier: good.identifier })
    t.equal(missing.data.message, 'Invalid or missing credentials')
    await callFrom(test, '10.0.1.3', { identifier: good.identifier })
    await callFrom(test, '10.0.1.3', { identifier: good.identifier })
    t.equal((await callFrom(test, '10.0.1.3', good)).status, 429, 'a missing secret is a failed authentication too')
  })

  t.test('REST meets the same budgets: a 429 problem with Retry-After', async (t) => {
    const list = (auth: Caller, remoteAddress: string) =>
      callRest(test, { method: 'GET', url: '/oauth/credentials', auth, remoteAddress })
    const good = await caller('rest-failures')
    for (let attempt = 1; attempt <= 3; attempt++) {
      t.equal((await list({ identifier: good.identifier, secret: 'wrong' }, '10.0.5.1')).status, 401)
    }
    const refused = await list(good, '10.0.5.1')
    t.equal(refused.status, 429, 'the right secret is refused from that address now')
    t.match(refused.headers['content-type'], /^application\/problem\+json/)
    t.equal(refused.body.detail, 'Too many failed authentication attempts. Please try again later.')
    t.ok(Number(refused.headers['retry-after']) >= 1, 'Retry-After is set')

    const busy = await caller('rest-busy')
    for (let call = 1; call <= 3; call++) t.equal((await list(busy, '10.0.5.2')).status, 200, `call ${call}`)
    t.equal((await list(busy, '10.0.5.2')).status, 429, 'the API credential has used its budget')
  })

  t.test('each API credential has its own budget, from any address', async (t) => {
    const busy = await caller('busy')
    const quiet = await caller('quiet')
    for (let call = 1; call <= 3; call++) {
      t.equal((await callFrom(test, `10.0.2.${call}`, busy)).status, 200, `call ${call} within the budget`)
    }
    const over = await callFrom(test, '10.0.2.9', busy)
    t.equal(over.status, 429)
    t.equal(over.data.message, 'Too many requests for this API credential. Please try again later.')
    t.ok(Number(over.retryAfter) >= 1)
    t.equal((await callFrom(test, '10.0.2.1', quiet)).status, 200, 'another credential still gets in')
  })

  t.test('each address has its own budget, whoever it authenticates as', async (t) => {
    const callers = await Promise.all(['ip-a', 'ip-b', 'ip-c'].map(caller))
    for (const [index, who] of [...callers, ...callers.slice(0, 2)].entries()) {
      t.equal((await callFrom(test, '10.0.3.1', who)).status, 200, `request ${index + 1} of the address`)
    }
    const over = await callFrom(test, '10.0.3.1', callers[2] as Caller)
    t.equal(over.status, 429)
    t.equal(over.data.message, 'Too many requests. Please try again later.')
    t.equal((await callFrom(test, '10.0.3.2', callers[2] as Caller)).status, 200, 'another address still gets in')
  })

  t.test('a refused update writes nothing; the answer comes in the caller\'s format', async (t) => {
    const writer = await caller('writer')
    const created = await callFrom(test, '10.0.4.1', writer, {
      action: 'CreateOAuthCredential',
      grantType: 'authorization_code',
      name: 'Before',
      scope: 'openid',
    })
    const id = String(created.data.credentialId)
    await callFrom(test, '10.0.4.1', writer)
    await callFrom(test, '10.0.4.1', writer)
    const refused = await callFrom(test, '10.0.4.1', writer, {
      action: 'UpdateOAuthCredential',
      credentialId: id,
      name: 'After',
      responsetype: 'xml',
    })
    t.equal(refused.status, 429)
    t.match(refused.contentType, /^application\/xml/)
    t.equal(refused.data.result, 'error')
    t.equal(refused.data.message, 'Too many requests for this API credential. Please try again later.')
    const [row] = await test.sql<{ name: string; version: number }>('SELECT name, version FROM credential WHERE id = $1', [Number(id)])
    t.same(row, { name: 'Before', version: 1 })
    const events = await test.sql('SELECT action FROM audit_event WHERE credential_id = $1', [Number(id)])
    t.same(events, [{ action: 'create' }], 'only the create is in the audit trail')
  })
})

t.test('the budget comes back when the window ends', async (t) => {
  // The limits plugin on its own (no database needed), with a one-second window.
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(limits, {
    windowSeconds: 1,
    perCredential: 1,
    perIp: 1,
    failedAuthPerIp: 1,
    failedAuthPerIdentifier: 1,
    failedClientAuthPerIp: 1,
    failedClientAuthPerClient: 1,
  })
  app.get('/', async (request, reply) => {
    try {
      await app.limits.admit(request, { address: true })
      return 'in'
    } catch (error) {
      if (!(error instanceof RateLimited)) throw error
      return reply.code(429).header('retry-after', String(error.retryAfterSeconds)).send(error.message)
    }
  })
  t.equal((await app.inject('/')).body, 'in')
  const over = await app.inject('/')
  t.equal(over.statusCode, 429)
  t.equal(over.headers['retry-after'], '1')
  await new Promise((resolve) => setTimeout(resolve, 1100))
  t.equal((await app.inject('/')).body, 'in', 'a new window, a new budget')
})

t.test('limits are validated at startup, naming the variable', async (t) => {
  t.throws(() => loadConfig({ RATE_LIMIT_PER_IP: '0' }), /RATE_LIMIT_PER_IP="0" \(requests per window per client IP, at least 1\)/)
  t.throws(() => loadConfig({ RATE_LIMIT_PER_CREDENTIAL: 'lots' }), /RATE_LIMIT_PER_CREDENTIAL="lots"/)
  t.throws(() => loadConfig({ RATE_LIMIT_WINDOW_SECONDS: 'soon' }), /RATE_LIMIT_WINDOW_SECONDS/)
  t.throws(() => loadConfig({ RATE_LIMIT_FAILED_AUTH_PER_IP: '-1' }), /RATE_LIMIT_FAILED_AUTH_PER_IP/)
  t.throws(() => loadConfig({ RATE_LIMIT_FAILED_AUTH_PER_IDENTIFIER: '0' }), /RATE_LIMIT_FAILED_AUTH_PER_IDENTIFIER="0"/)
  t.throws(() => loadConfig({ RATE_LIMIT_FAILED_CLIENT_AUTH_PER_IP: 'x' }), /RATE_LIMIT_FAILED_CLIENT_AUTH_PER_IP="x"/)
  t.throws(() => loadConfig({ RATE_LIMIT_FAILED_CLIENT_AUTH_PER_CLIENT: '1.5' }), /RATE_LIMIT_FAILED_CLIENT_AUTH_PER_CLIENT="1.5"/)
  const defaults = loadConfig({})
  t.same(
    [
      defaults.RATE_LIMIT_WINDOW_SECONDS,
      defaults.RATE_LIMIT_PER_CREDENTIAL,
      defaults.RATE_LIMIT_PER_IP,
      defaults.RATE_LIMIT_FAILED_AUTH_PER_IP,
      defaults.RATE_LIMIT_FAILED_AUTH_PER_IDENTIFIER,
      defaults.RATE_LIMIT_FAILED_CLIENT_AUTH_PER_IP,
      defaults.RATE_LIMIT_FAILED_CLIENT_AUTH_PER_CLIENT,
    ],
    [60, 30_000, 60_000, 30, 30, 300, 10],
  )
})
