import t from 'tap'
import { buildTestApp } from '../helpers/app.js'
import { callLegacy } from '../helpers/legacy.js'
import { basic, callRest, createCredential, type Problem } from '../helpers/rest.js'

// Issue 10, points 10 and 11: failures are counted per address and per identifier, for API
// callers and for clients at POST …/authenticate; REST refuses callers before reading bodies.
const test = await buildTestApp(t, {
  RATE_LIMIT_FAILED_AUTH_PER_IP: '3',
  RATE_LIMIT_FAILED_AUTH_PER_IDENTIFIER: '4',
  RATE_LIMIT_FAILED_CLIENT_AUTH_PER_IP: '5',
  RATE_LIMIT_FAILED_CLIENT_AUTH_PER_CLIENT: '3',
})
const FAILURES = 'Too many failed authentication attempts. Please try again later.'

/** More than the 5,000 keys a budget's in-process count keeps. */
const MADE_UP = 5_100
/** MADE_UP failures, 100 at a time, `perAddress` from each address under `network` (a.b). */
async function failMadeUp(network: string, perAddress: number, fail: (n: number, remoteAddress: string) => Promise<unknown>) {
  for (let start = 0; start < MADE_UP; start += 100) {
    await Promise.all(
      Array.from({ length: 100 }, (_, offset) => {
        const address = Math.floor((start + offset) / perAddress)
        return fail(start + offset, `${network}.${Math.floor(address / 250)}.${address % 250}`)
      }),
    )
  }
}
const retryAfter = (headers: Record<string, unknown>) => Number(headers['retry-after'])

t.test('client authentication: wrong secrets per client identifier, from any address', async (t) => {
  const { body: client } = await createCredential(test)
  const authenticate = (clientSecret: string, remoteAddress: string) =>
    callRest<Problem>(test, { method: 'POST', url: '/oauth/credentials/authenticate', body: { clientIdentifier: client.clientIdentifier, clientSecret }, remoteAddress })
  for (let attempt = 1; attempt <= 3; attempt++) t.equal((await authenticate('wrong', `10.1.0.${attempt}`)).status, 401, `failure ${attempt}`)
  const locked = await authenticate('wrong again', '10.1.0.9')
  t.same([locked.status, locked.body.detail], [429, FAILURES], 'the client is out of failures, from a new address too')
  t.ok(retryAfter(locked.headers) >= 1 && retryAfter(locked.headers) <= 60, `Retry-After ${locked.headers['retry-after']}`)
  // Its identifier is public (authorization URLs carry it): wrong secrets must not lock it out.
  t.equal((await authenticate(client.clientSecret, '10.1.0.9')).status, 200, 'its own secret still authenticates')
  const other = await createCredential(test)
  const fine = await callRest(test, { method: 'POST', url: '/oauth/credentials/authenticate', body: { clientIdentifier: other.body.clientIdentifier, clientSecret: other.body.clientSecret }, remoteAddress: '10.1.0.9' })
  t.equal(fine.status, 200, 'another client is not affected')
})

t.test('client authentication: wrong secrets per address, over many clients', async (t) => {
  const tries = await Promise.all([1, 2, 3, 4, 5].map(() => createCredential(test)))
  for (const { body } of tries) {
    const answer = await callRest(test, { method: 'POST', url: '/oauth/credentials/authenticate', body: { clientIdentifier: body.clientIdentifier, clientSecret: 'wrong' }, remoteAddress: '10.2.0.1' })
    t.equal(answer.status, 401)
  }
  const { body: good } = await createCredential(test)
  const authenticate = (clientSecret: string) =>
    callRest<Problem>(test, { method: 'POST', url: '/oauth/credentials/authenticate', body: { clientIdentifier: good.clientIdentifier, clientSecret }, remoteAddress: '10.2.0.1' })
  const locked = await authenticate('wrong')
  t.same([locked.status, locked.body.detail], [429, FAILURES], 'the address is out of client failures')
  t.ok(retryAfter(locked.headers) >= 1)
  // The address is an authorization server's, checking every client: a flood of wrong secrets
  // sent through it must not stop the clients that send their right ones.
  t.equal((await authenticate(good.clientSecret)).status, 200, 'a right secret still authenticates')
})

t.test('API callers: wrong secrets per API identifier, spread over many addresses', async (t) => {
  const caller = await test.app.apiClients.create({ identifier: 'spread' })
  for (let attempt = 1; attempt <= 4; attempt++) {
    const address = `10.3.0.${attempt}`
    const wrong = attempt % 2 === 0
      ? await callRest(test, { method: 'GET', url: '/oauth/credentials', auth: { identifier: caller.identifier, secret: 'wrong' }, remoteAddress: address })
      : await callLegacy(test, { action: 'ListOAuthCredentials', username: caller.identifier, password: 'wrong' }, { auth: false, remoteAddress: address })
    t.ok(wrong.status === 401 || wrong.status === 403, `failure ${attempt} answered as a failure`)
  }
  const rest = await callRest<Problem>(test, { method: 'GET', url: '/oauth/credentials', auth: caller, remoteAddress: '10.3.0.9' })
  t.same([rest.status, rest.body.detail], [429, FAILURES], 'the identifier is out of failures, even with its secret')
  t.ok(retryAfter(rest.headers) >= 1)
  const legacy = await callLegacy(test, { action: 'ListOAuthCredentials', username: caller.identifier, password: caller.secret, responsetype: 'json' }, { auth: false, remoteAddress: '10.3.0.10' })
  t.same([legacy.status, legacy.data], [429, { result: 'error', message: FAILURES }])
  t.ok(Number(legacy.headers['retry-after']) >= 1)
  t.equal((await callRest(test, { method: 'GET', url: '/oauth/credentials', remoteAddress: '10.3.0.9' })).status, 200, 'another identifier, same address: fine')
})

t.test('made-up identifiers, however many, cannot push a real identifier\'s failures out of the count', async (t) => {
  const caller = await test.app.apiClients.create({ identifier: 'pushed' })
  const wrong = { identifier: caller.identifier, secret: 'wrong' }
  for (let attempt = 1; attempt <= 4; attempt++) {
    await callRest(test, { method: 'GET', url: '/oauth/credentials', auth: wrong, remoteAddress: `10.7.0.${attempt}` })
  }
  const locked = () => callRest(test, { method: 'GET', url: '/oauth/credentials', auth: caller, remoteAddress: '10.7.1.1' })
  t.equal((await locked()).status, 429, 'out of failures')
  // Both edges, from addresses that each stay within their own budget (3).
  await failMadeUp('10.8', 3, (n, remoteAddress) =>
    n % 2 === 0
      ? callRest(test, { method: 'GET', url: '/oauth/credentials', auth: { identifier: `made-up-${n}`, secret: 'wrong' }, remoteAddress })
      : callLegacy(test, { action: 'ListOAuthCredentials', username: `made-up-${n}`, password: 'wrong' }, { auth: false, remoteAddress }),
  )
  t.equal((await locked()).status, 429, `still out of failures after ${MADE_UP} made-up identifiers failed`)
})

t.test('made-up client identifiers cannot push a real client\'s failures out of the count either', async (t) => {
  const { body: client } = await createCredential(test)
  const authenticate = (clientIdentifier: string, clientSecret: string, remoteAddress: string) =>
    callRest(test, { method: 'POST', url: '/oauth/credentials/authenticate', body: { clientIdentifier, clientSecret }, remoteAddress })
  for (let attempt = 1; attempt <= 3; attempt++) await authenticate(client.clientIdentifier, 'wrong', `10.9.0.${attempt}`)
  t.equal((await authenticate(client.clientIdentifier, 'wrong', '10.9.1.1')).status, 429, 'out of failures')
  await failMadeUp('10.10', 5, (n, remoteAddress) => authenticate(`made-up-${n}`, 'wrong', remoteAddress))
  t.equal((await authenticate(client.clientIdentifier, 'wrong', '10.9.1.2')).status, 429, `still out of failures after ${MADE_UP} made-up clients failed`)
})

t.test('legacy IP refusals count against the address\'s failure budget', async (t) => {
  const fenced = await test.app.apiClients.create({ identifier: 'fenced', allowedIps: ['192.0.2.1'] })
  for (let attempt = 1; attempt <= 3; attempt++) {
    const refused = await callLegacy(test, { action: 'ListOAuthCredentials', username: fenced.identifier, password: fenced.secret, responsetype: 'json' }, { auth: false, remoteAddress: '10.4.0.1' })
    t.same([refused.status, refused.data.message], [403, 'Invalid IP 10.4.0.1'], `refusal ${attempt}`)
  }
  const probe = await callLegacy(test, { action: 'ListOAuthCredentials', responsetype: 'json' }, { remoteAddress: '10.4.0.1' })
  t.same([probe.status, probe.data.message], [429, FAILURES], 'the address is out of failures, for any identifier')
})

t.test('IPv6 addresses share the failures of their /64, the block one subscriber holds; IPv4-mapped ones are IPv4', async (t) => {
  // A new made-up identifier each time: only the address's budget (3) can refuse.
  let probe = 0
  const status = async (remoteAddress: string) =>
    (await callLegacy(test, { action: 'ListOAuthCredentials', username: `v6-probe-${++probe}`, password: 'wrong', responsetype: 'json' }, { auth: false, remoteAddress })).status
  for (const address of ['2001:db8:0:7::1', '2001:db8:0:7::2', '2001:db8:0:7:1:2:3:4']) t.equal(await status(address), 403, `${address}: a failure`)
  t.equal(await status('2001:DB8:0:7:ffff:ffff:ffff:ffff'), 429, 'another address of the same /64, however written: out of failures')
  t.equal(await status('2001:db8:0:8::1'), 403, 'the next /64 has failures of its own')
  // On a private network one /64 holds many hosts: each address keeps its own failures.
  for (const address of ['fd00:0:0:9::1', 'fd00:0:0:9::2', 'fd00:0:0:9::3', 'fe80::1', 'fe80::2', 'fe80::3']) {
    t.equal(await status(address), 403, `${address}: a failure`)
  }
  t.equal(await status('fd00:0:0:9::4'), 403, 'a fourth unique-local address of the same /64 still has failures of its own')
  t.equal(await status('fe80::4'), 403, 'so does a fourth link-local one')

  for (let attempt = 1; attempt <= 3; attempt++) t.equal(await status('::ffff:10.6.0.1'), 403, `IPv4-mapped failure ${attempt}`)
  t.equal(await status('10.6.0.1'), 429, 'the same IPv4 address, unmapped: out of failures')
  t.equal(await status('::ffff:10.6.0.2'), 403, 'another IPv4 address, mapped: failures of its own')
})

t.test('REST authenticates before it reads a body: refused bodies are never parsed, and count', async (t) => {
  const before = await test.sql<{ n: number }>('SELECT count(*)::int AS n FROM credential')
  const post = (payload: string, authorization?: string) =>
    test.app.inject({
      method: 'POST',
      url: '/oauth/credentials',
      remoteAddress: '10.5.0.1',
      headers: { 'content-type': 'application/json', ...(authorization ? { authorization } : {}) },
      payload,
    })
  const malformed = await post('{"name": ')
  t.equal(malformed.statusCode, 401, 'malformed JSON from nobody: 401, not 400')
  const huge = await post(JSON.stringify({ name: 'x'.repeat(200 * 1024) }), basic({ identifier: test.admin.identifier, secret: 'wrong' }))
  t.equal(huge.statusCode, 401, 'an oversized body with a wrong secret: 401, not 413')
  const invalid = await post(JSON.stringify({ scope: 7 }), basic({ identifier: 'nobody', secret: 'x' }))
  t.equal(invalid.statusCode, 401, 'a body that breaks the schema: 401, not 400')
  const locked = await post('{"name": ')
  t.equal(locked.statusCode, 429, 'those three refusals used up the address\'s failures')
  const after = await test.sql<{ n: number }>('SELECT count(*)::int AS n FROM credential')
  t.same(after, before, 'nothing created')
  const allowed = await post('{"name": ', basic(test.admin))
  t.equal(allowed.statusCode, 429, 'the right secret is refused too while the address is locked')
  const elsewhere = await test.app.inject({ method: 'POST', url: '/oauth/credentials', remoteAddress: '10.5.0.2', headers: { 'content-type': 'application/json', authorization: basic(test.admin) }, payload: '{"name": ' })
  t.equal(elsewhere.statusCode, 400, 'an authenticated caller\'s malformed body is then read and refused')
})
