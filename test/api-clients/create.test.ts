import t from 'tap'
import { ApiClientError } from '../../src/api-clients/service.js'
import type { Watch } from '../../src/db/notifications.js'
import { RecentlyRead } from '../../src/recently-read.js'
import { buildTestApp, freshDatabaseFor, type TestApp } from '../helpers/app.js'
import { callRest } from '../helpers/rest.js'

t.test('the service refuses an identifier HTTP Basic could not carry back, whoever asks', async (t) => {
  const test = await buildTestApp(t)
  const before = await test.app.apiClients.list()
  for (const identifier of ['', 'ab', 'two words', 'ops:admin', 'x'.repeat(129), 'new\nline']) {
    await t.rejects(
      test.app.apiClients.create({ identifier }),
      new ApiClientError(`Invalid identifier ${JSON.stringify(identifier.slice(0, 40))}: 3 to 128 of A-Z a-z 0-9 . _ -`),
      JSON.stringify(identifier.slice(0, 20)),
    )
  }
  t.same(await test.app.apiClients.list(), before, 'nothing was stored')
  t.match(await test.app.apiClients.create({}), { identifier: /^api-[A-Za-z0-9_-]{12}$/ }, 'a generated identifier follows the rule')
})

// A prober must not tell a known identifier from an unknown one by the time an answer takes:
// both are answered from memory after their first look-up, and a new one is heard at once.
const list = (test: TestApp, auth: { identifier: string; secret: string }) =>
  callRest(test, { method: 'GET', url: '/oauth/credentials', auth }).then((answer) => answer.status)

/** Until the app hears changes, it keeps nothing (on PostgreSQL its LISTEN connection opens after the start). */
async function listening(test: TestApp): Promise<void> {
  for (const started = Date.now(); !test.app.apiClients.remembering && Date.now() - started < 10_000; ) {
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
}

t.test('an unknown identifier is remembered like a known one, and works as soon as it is created', async (t) => {
  const test = await buildTestApp(t)
  const late = { identifier: 'late-comer', secret: 'x'.repeat(40) }
  await listening(test)
  t.equal(await list(test, late), 401, 'unknown: refused')
  t.equal(test.app.apiClients.remembered(late.identifier), null, 'and remembered as unknown')
  t.equal(await list(test, test.admin), 200)
  t.not(test.app.apiClients.remembered(test.admin.identifier), undefined, 'as a known one is remembered')
  const created = await test.app.apiClients.create({ identifier: late.identifier })
  t.equal(await list(test, { ...late, secret: created.secret }), 200, 'created here: accepted at once')
})

t.test('a name no API credential can have is refused without a read, and not kept', async (t) => {
  const test = await buildTestApp(t)
  await listening(test)
  // The API-credential cache counts only callers let in; the statement count sees every read.
  const misses = async () => {
    const scraped = (await test.app.inject({ method: 'GET', url: '/metrics' })).body
    return Number(/^oauth_db_statement_duration_seconds_count\{statement="api_credential.find_active",outcome="ok"\} (\d+)$/m.exec(scraped)?.[1] ?? 0)
  }
  const before = await misses()
  // 12 KB names, each different: read and kept, 10,000 of them took hundreds of MB.
  for (const name of ['a'.repeat(12_000), 'b'.repeat(12_000), 'two words', 'аdmin']) {
    t.equal(await list(test, { identifier: name, secret: 'x'.repeat(40) }), 401, `REST: ${name.slice(0, 12)}`)
    const legacy = await test.app.inject({ method: 'POST', url: '/includes/api.php', payload: { action: 'ListOAuthCredentials', identifier: name, secret: 'x'.repeat(40), responsetype: 'json' } })
    t.equal(legacy.statusCode, 403, `api.php: ${name.slice(0, 12)}`)
    t.equal(test.app.apiClients.remembered(name), null, 'known to be no API credential')
  }
  t.equal(await misses(), before, 'no look-up reached the database')
})

t.test('a stream of made-up identifiers does not push a real caller out of memory', async (t) => {
  // The API credentials' memory as the service makes it, smaller: 3 entries of each kind.
  const heard: Watch = { live: () => true, close: async () => {} }
  const recent = new RecentlyRead<{ identifier: string }>(heard, 60_000, 3, true)
  const stored = new Map([['billing', { identifier: 'billing' }]])
  const find = (identifier: string) => recent.get(identifier, async () => stored.get(identifier) ?? null)
  await find('billing')
  for (let n = 0; n < 10; n++) await find(`made-up-${n}`)
  t.equal(recent.remembered('made-up-9'), null, 'made-up ones are remembered')
  t.same(recent.remembered('billing'), { identifier: 'billing' }, 'and the real one still is')
  recent.forget('made-up-9')
  t.equal(recent.remembered('made-up-9'), undefined, 'until a change of it is heard')
})

if (process.env.TEST_DATABASE_URL) {
  t.test('an identifier created by another replica is accepted by one that knew it as unknown within 100 ms', async (t) => {
    const fresh = await freshDatabaseFor(t)
    const [first, second] = [await buildTestApp(t, {}, fresh), await buildTestApp(t, {}, fresh)] as [TestApp, TestApp]
    const late = { identifier: 'late-comer', secret: '' }
    await listening(first)
    t.equal(await list(first, { ...late, secret: 'x'.repeat(40) }), 401)
    t.equal(first.app.apiClients.remembered(late.identifier), null, 'remembered as unknown')
    late.secret = (await second.app.apiClients.create({ identifier: late.identifier })).secret
    const createdAt = Date.now()
    let status = 0
    // Every 5 ms: each refusal before the news arrives costs the identifier a failure (30 allowed).
    while (status !== 200 && Date.now() - createdAt < 2_000) {
      status = await list(first, late)
      if (status !== 200) await new Promise((resolve) => setTimeout(resolve, 5))
    }
    const ms = Date.now() - createdAt
    t.equal(status, 200, 'accepted')
    t.ok(ms < 100, `within 100 ms (${ms} ms)`)
  })
}
