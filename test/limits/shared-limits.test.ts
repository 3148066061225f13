import { randomBytes } from 'node:crypto'
import { Writable } from 'node:stream'
import t from 'tap'
import { buildTestApp, type TestApp } from '../helpers/app.js'
import { callRest, createCredential } from '../helpers/rest.js'
import { startTcpProxy } from '../helpers/tcp-proxy.js'

// With REDIS_URL every replica counts the budgets in one place: two apps here stand for two
// replicas. Each test gets a key prefix of its own, so runs in parallel never share a count.

const REDIS = { host: '127.0.0.1', port: 6379 }
const redisUrl = `redis://${REDIS.host}:${REDIS.port}`

function sharedEnv(extra: Record<string, string> = {}) {
  return { REDIS_URL: redisUrl, REDIS_KEY_PREFIX: `test-${randomBytes(6).toString('hex')}:`, ...extra }
}

/** A REST call with the wrong secret for `identifier`, from `remoteAddress`. */
async function wrongSecret(test: TestApp, identifier: string, remoteAddress: string) {
  return (await callRest(test, { method: 'GET', url: '/oauth/credentials', auth: { identifier, secret: 'wrong' }, remoteAddress })).status
}

/** The app's oauth_rate_limits_shared gauge, as scraped. */
async function sharedGauge(test: TestApp): Promise<string | undefined> {
  const scraped = await test.app.inject({ method: 'GET', url: '/metrics' })
  return /^oauth_rate_limits_shared (\d)$/m.exec(scraped.body)?.[1]
}

/** Until the app's limits count in Redis (its connection is ready). */
async function sharing(test: TestApp): Promise<boolean> {
  for (const deadline = Date.now() + 10_000; Date.now() < deadline; await new Promise((resolve) => setTimeout(resolve, 20))) {
    if (test.app.limits.sharing()) return true
  }
  return false
}

t.test('two replicas share one failure budget per identifier', async (t) => {
  const env = sharedEnv({ RATE_LIMIT_FAILED_AUTH_PER_IDENTIFIER: '6' })
  const replicas = [await buildTestApp(t, env), await buildTestApp(t, env)]
  for (const replica of replicas) t.ok(await sharing(replica), 'counting in Redis')
  // Six failures in total, from six addresses, spread over both replicas.
  for (let n = 0; n < 6; n++) t.equal(await wrongSecret(replicas[n % 2]!, 'shared-victim', `10.9.0.${n}`), 401)
  for (const [n, replica] of replicas.entries()) {
    t.equal(await wrongSecret(replica, 'shared-victim', '10.9.1.1'), 429, `replica ${n + 1} refuses the seventh`)
  }
})

t.test('two replicas share one failure budget per client', async (t) => {
  const env = sharedEnv({ RATE_LIMIT_FAILED_CLIENT_AUTH_PER_CLIENT: '3' })
  const [first, second] = [await buildTestApp(t, env), await buildTestApp(t, env)] as const
  for (const replica of [first, second]) t.ok(await sharing(replica), 'counting in Redis')
  const { body: client } = await createCredential(first)
  const authenticate = (replica: TestApp, clientSecret: string, remoteAddress: string) =>
    callRest(replica, { method: 'POST', url: '/oauth/credentials/authenticate', body: { clientIdentifier: client.clientIdentifier, clientSecret }, remoteAddress })
  t.equal((await authenticate(first, client.clientSecret, '10.9.9.1')).status, 200)
  for (let n = 0; n < 3; n++) t.equal((await authenticate(n % 2 ? first : second, 'wrong', `10.9.9.${n + 2}`)).status, 401)
  t.equal((await authenticate(first, 'wrong', '10.9.9.9')).status, 429, 'out of failures on either replica')
  t.equal((await authenticate(second, 'wrong', '10.9.9.10')).status, 429)
  t.equal((await authenticate(first, client.clientSecret, '10.9.9.9')).status, 200, 'its own secret still authenticates')
})

t.test('without REDIS_URL each process counts on its own', async (t) => {
  const env = { RATE_LIMIT_FAILED_AUTH_PER_IDENTIFIER: '6' }
  const replicas = [await buildTestApp(t, env), await buildTestApp(t, env)]
  for (let n = 0; n < 6; n++) t.equal(await wrongSecret(replicas[n % 2]!, 'local-victim', `10.9.2.${n}`), 401)
  t.equal(await wrongSecret(replicas[0]!, 'local-victim', '10.9.3.1'), 401, 'three failures here are not six')
})

t.test('Redis failing: limits fall back to this process, one line each way, never a 5xx', async (t) => {
  const proxy = await startTcpProxy(REDIS)
  t.teardown(() => proxy.close())
  const lines: { level: number; msg: string }[] = []
  const logger = {
    level: 'info',
    stream: new Writable({
      write(chunk, _encoding, done) {
        lines.push(JSON.parse(String(chunk)))
        done()
      },
    }),
  }
  const test = await buildTestApp(t, sharedEnv({ REDIS_URL: proxy.via(redisUrl), RATE_LIMIT_FAILED_AUTH_PER_IDENTIFIER: '3' }), undefined, { logger })
  const redisLines = () => lines.filter((line) => /Redis/.test(line.msg)).map((line) => line.msg)
  t.ok(await sharing(test), 'counting in Redis')
  t.equal(await wrongSecret(test, 'while-redis-fails', '10.9.4.1'), 401)

  for (const [fault, breakRedis] of [['cut', () => proxy.cut()], ['stalled', () => proxy.stall()]] as const) {
    lines.length = 0
    await breakRedis()
    const started = Date.now()
    const statuses = []
    for (let n = 0; n < 20; n++) statuses.push((await callRest(test, { method: 'GET', url: '/oauth/credentials' })).status)
    t.same([...new Set(statuses)], [200], `Redis ${fault}: every request is answered`)
    t.ok(Date.now() - started < 5_000, `Redis ${fault}: 20 requests took ${Date.now() - started} ms`)
    t.same(redisLines().length, 1, `Redis ${fault}: one line`)
    t.match(redisLines()[0], /^Redis is not answering .*: rate limits are counted in this process until it does$/)
    t.notOk(test.app.limits.sharing(), 'counting here')
    t.equal(await sharedGauge(test), '0', 'the gauge says so')
    // The budget still holds while counted here.
    for (let n = 0; n < 3; n++) await wrongSecret(test, `local-${fault}`, `10.9.5.${n}`)
    t.equal(await wrongSecret(test, `local-${fault}`, '10.9.6.1'), 429, `Redis ${fault}: the budget holds in this process`)

    lines.length = 0
    await proxy.restore()
    t.ok(await sharing(test), `Redis ${fault}: counting in Redis again`)
    t.same(redisLines(), ['Redis answers: rate limits are shared across replicas'])
    t.equal(await sharedGauge(test), '1', 'the gauge says so')
  }
})

t.test('an authentication asks Redis once, whatever it finds: every budget of the request in one round trip', async (t) => {
  // Through the proxy, each write of the app's Redis connection is seen: one a round trip.
  const proxy = await startTcpProxy(REDIS)
  t.teardown(() => proxy.close())
  const env = { RATE_LIMIT_FAILED_CLIENT_AUTH_PER_CLIENT: '2', RATE_LIMIT_FAILED_AUTH_PER_IP: '1000', RATE_LIMIT_FAILED_AUTH_PER_IDENTIFIER: '3' }
  const test = await buildTestApp(t, sharedEnv({ REDIS_URL: proxy.via(redisUrl), ...env }))
  t.ok(await sharing(test), 'counting in Redis')
  const { body: client } = await createCredential(test)
  const { body: other } = await createCredential(test)
  type Auth = { identifier: string; secret: string } | null
  // The caller unless one is given (the admin, until it is locked out below).
  let caller: Auth = test.admin
  const authenticate = (clientSecret: string, auth = caller, clientIdentifier = client.clientIdentifier) =>
    callRest(test, { method: 'POST', url: '/oauth/credentials/authenticate', auth, body: { clientIdentifier, clientSecret }, remoteAddress: '10.9.7.1' })
  // The first request reads the API credential from the database and loads Redis's script.
  t.equal((await authenticate(client.clientSecret)).status, 200)

  /** Round trips per request of `requests` calls; `call` gets the call's number. */
  const roundTrips = async (requests: number, call: (n: number) => Promise<{ status: number }>) => {
    const before = proxy.sends()
    const statuses = new Set<number>()
    for (let n = 0; n < requests; n++) statuses.add((await call(n)).status)
    return { perRequest: (proxy.sends() - before) / requests, statuses: [...statuses] }
  }
  const fresh = async (extra: { allowedIps?: string[]; permissions?: string[] } = {}) =>
    test.app.apiClients.create({ description: 'round trips', ...extra })
  t.same(await roundTrips(20, () => authenticate(client.clientSecret)), { perRequest: 1, statuses: [200] }, 'a valid authentication: one round trip')

  // Callers this replica has not read in the last 5 s: each one is new here.
  const callers = await Promise.all(Array.from({ length: 5 }, () => fresh()))
  t.same(await roundTrips(5, (n) => authenticate(client.clientSecret, callers[n])), { perRequest: 1, statuses: [200] }, 'a caller not yet remembered: one')
  const strangers = await Promise.all(Array.from({ length: 3 }, () => fresh()))
  t.same(
    await roundTrips(3, (n) => authenticate(client.clientSecret, { identifier: strangers[n]!.identifier, secret: 'wrong' })),
    { perRequest: 1, statuses: [401] },
    'a wrong secret for a caller not yet remembered: one',
  )
  t.same(
    await roundTrips(3, () => authenticate(client.clientSecret, { identifier: test.admin.identifier, secret: 'wrong' })),
    { perRequest: 1, statuses: [401] },
    'a wrong secret for a remembered caller: one',
  )
  t.same(
    await roundTrips(2, () => authenticate(client.clientSecret, { identifier: test.admin.identifier, secret: 'wrong' })),
    { perRequest: 1, statuses: [429] },
    'an identifier out of failures: one, even with its secret next',
  )
  t.same(await roundTrips(2, () => authenticate(client.clientSecret, test.admin)), { perRequest: 1, statuses: [429] }, '(its secret)')
  caller = await fresh()
  t.equal((await authenticate(client.clientSecret)).status, 200, 'another caller')
  t.same(
    await roundTrips(3, (n) => authenticate(client.clientSecret, { identifier: `nobody-${n}`, secret: 'wrong' })),
    { perRequest: 1, statuses: [401] },
    'an unknown identifier: one',
  )
  t.same(await roundTrips(2, () => authenticate(client.clientSecret, null)), { perRequest: 1, statuses: [401] }, 'no credentials: one')
  const elsewhere = await fresh({ allowedIps: ['10.9.8.1'] })
  t.same(await roundTrips(2, () => authenticate(client.clientSecret, elsewhere)), { perRequest: 1, statuses: [403] }, 'an address its allow-list refuses: one')
  const reader = await fresh({ permissions: ['GetOAuthCredential'] })
  t.same(await roundTrips(2, () => authenticate(client.clientSecret, reader)), { perRequest: 1, statuses: [403] }, 'no permission: one')

  const newcomer = await fresh()
  t.same(await roundTrips(1, () => authenticate('wrong', newcomer)), { perRequest: 1, statuses: [401] }, 'a wrong client secret from a caller not yet remembered: one')
  t.same(await roundTrips(1, () => authenticate('wrong')), { perRequest: 1, statuses: [401] }, 'a wrong client secret: one')
  const locked = await roundTrips(3, () => authenticate('wrong'))
  t.same(locked, { perRequest: 1, statuses: [429] }, 'a wrong secret for a client out of failures: one')
  t.same(await roundTrips(2, () => authenticate(client.clientSecret)), { perRequest: 1, statuses: [200] }, 'its own secret still authenticates: one')
  t.same(await roundTrips(2, () => authenticate(other.clientSecret, undefined, other.clientIdentifier)), { perRequest: 1, statuses: [200] }, 'another client: one')
  t.same(
    await roundTrips(2, () => authenticate(client.clientSecret, undefined, 'x'.repeat(300))),
    { perRequest: 1, statuses: [401] },
    'an unknown client: one',
  )
  const invalid = await roundTrips(2, () =>
    callRest(test, { method: 'POST', url: '/oauth/credentials/authenticate', auth: caller, body: { clientIdentifier: 1 }, remoteAddress: '10.9.7.1' }),
  )
  t.same(invalid, { perRequest: 1, statuses: [400] }, 'a body the schema refuses: counted too, one')
})
