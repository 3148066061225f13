import t from 'tap'
import { buildTestApp, freshDatabaseFor, type TestApp } from '../helpers/app.js'
import { startTcpProxy } from '../helpers/tcp-proxy.js'

// Authentication answers from memory once it has read a credential (src/recently-read.ts).
// These tests fill that memory first, then change the credential, and expect the change at once.

const actor = { actor: 'test', source: 'rest' as const }
const newCredential = { name: 'App', grantType: 'authorization_code', scopes: ['openid'] }

/** Milliseconds from `since` until `check` first holds, asked every 10 ms for up to 10 s; undefined if never. */
async function msUntil(check: () => boolean | Promise<boolean>, since = Date.now()): Promise<number | undefined> {
  while (Date.now() - since < 10_000) {
    if (await check()) return Date.now() - since
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
  return undefined
}

/** Until the app hears of changes, it keeps nothing in memory. */
async function remembering(test: TestApp) {
  return (await msUntil(() => test.app.credentials.remembering)) !== undefined
}

async function authenticated(test: TestApp, clientIdentifier: string, secret: string) {
  return test.app.credentials.authenticate(clientIdentifier, secret)
}

t.test('a change made here is seen by the next authentication, remembered or not', async (t) => {
  const test = await buildTestApp(t)
  const { credential, clientSecret } = await test.app.credentials.create(newCredential, actor)
  const id = { credentialId: credential.credentialId }
  t.ok(await authenticated(test, credential.clientIdentifier, clientSecret), 'read, and remembered')
  t.ok(await authenticated(test, credential.clientIdentifier, clientSecret), 'from memory')

  await test.app.credentials.update(id, { name: 'Renamed' }, actor)
  t.equal((await authenticated(test, credential.clientIdentifier, clientSecret))?.name, 'Renamed', 'an update')

  const rotated = await test.app.credentials.rotateSecret(id, 0, actor)
  t.equal(await authenticated(test, credential.clientIdentifier, clientSecret), null, 'a rotation ends the old secret')
  t.ok(await authenticated(test, credential.clientIdentifier, rotated.clientSecret), 'and starts the new one')

  await test.app.credentials.delete(id, actor)
  t.equal(await authenticated(test, credential.clientIdentifier, rotated.clientSecret), null, 'a deletion')
})

t.test('a wrong secret is refused from memory as from the database', async (t) => {
  const test = await buildTestApp(t)
  const { credential, clientSecret } = await test.app.credentials.create(newCredential, actor)
  t.ok(await authenticated(test, credential.clientIdentifier, clientSecret))
  t.equal(await authenticated(test, credential.clientIdentifier, `${clientSecret}x`), null)
  t.equal(await authenticated(test, credential.clientIdentifier, ''), null)
})

const serverUrl = process.env.TEST_DATABASE_URL
if (serverUrl) {
  t.test('a change made by another process reaches this one by notification, well before the memory expires', async (t) => {
    const fresh = await freshDatabaseFor(t)
    const here = await buildTestApp(t, {}, fresh)
    const there = await buildTestApp(t, {}, fresh)
    const { credential, clientSecret } = await here.app.credentials.create(newCredential, actor)
    t.ok(await remembering(here), 'listening')
    t.ok(await authenticated(here, credential.clientIdentifier, clientSecret), 'read, and remembered')

    const rotatedAt = Date.now()
    await there.app.credentials.rotateSecret({ credentialId: credential.credentialId }, 0, actor)
    const refusedAfter = await msUntil(
      async () => (await authenticated(here, credential.clientIdentifier, clientSecret)) === null,
      rotatedAt,
    )
    t.ok(refusedAfter !== undefined && refusedAfter < 2_000, `old secret refused here ${refusedAfter} ms after the rotation there (memory lasts 5,000 ms)`)
  })

  t.test('while notifications cannot arrive, nothing is answered from memory', async (t) => {
    const upstream = new URL(serverUrl)
    const proxy = await startTcpProxy({ host: upstream.hostname, port: Number(upstream.port || 5432) })
    t.teardown(() => proxy.close())
    const test = await buildTestApp(t, {}, undefined, {
      connect: (database) => ({ url: proxy.via((database as { url: string }).url) }),
    })
    const { credential, clientSecret } = await test.app.credentials.create(newCredential, actor)
    t.ok(await remembering(test), 'listening')
    t.ok(await authenticated(test, credential.clientIdentifier, clientSecret), 'read, and remembered')

    const cutAt = Date.now()
    await proxy.cut()
    const answers = () => authenticated(test, credential.clientIdentifier, clientSecret).then(Boolean, () => false)
    const failedAfter = await msUntil(async () => !(await answers()), cutAt)
    t.ok(failedAfter !== undefined && failedAfter < 2_000, `memory dropped ${failedAfter} ms after the connection was (memory lasts 5,000 ms)`)
    t.notOk(test.app.credentials.remembering)

    await proxy.restore()
    const back = (await msUntil(answers)) !== undefined
    t.ok(back, 'authenticates again once the database is back, without a restart')
    t.ok(await remembering(test), 'and remembers again')
  })
}
