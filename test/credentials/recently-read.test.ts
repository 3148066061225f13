import t from 'tap'
import { buildTestApp, freshDatabase, type TestApp } from '../helpers/app.js'
import { startTcpProxy } from '../helpers/tcp-proxy.js'

// Authentication answers from memory once it has read a credential (src/credentials/recently-read.ts).
// These tests fill that memory first, then change the credential, and expect the change at once.

const actor = { actor: 'test', source: 'rest' as const }
const newCredential = { name: 'App', grantType: 'authorization_code', scope: 'openid' }

/** Until the app hears of changes, it keeps nothing in memory. */
async function remembering(test: TestApp) {
  for (let attempt = 0; attempt < 200 && !test.app.credentials.remembering; attempt++) {
    await new Promise((resolve) => setTimeout(resolve, 25))
  }
  return test.app.credentials.remembering
}

async function authenticated(test: TestApp, clientIdentifier: string, secret: string) {
  return test.app.credentials.authenticate(clientIdentifier, secret)
}

t.test('a change made here is seen by the next authentication, remembered or not', async (t) => {
  const test = await buildTestApp(t)
  const { credential, clientSecret } = await test.app.credentials.create(newCredential, actor)
  const id = { credentialId: credential.id }
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
    const fresh = await freshDatabase()
    const here = await buildTestApp(t, {}, fresh)
    const there = await buildTestApp(t, {}, { database: fresh.database, drop: async () => {} })
    const { credential, clientSecret } = await here.app.credentials.create(newCredential, actor)
    t.ok(await remembering(here), 'listening')
    t.ok(await authenticated(here, credential.clientIdentifier, clientSecret), 'read, and remembered')

    const rotatedAt = Date.now()
    await there.app.credentials.rotateSecret({ credentialId: credential.id }, 0, actor)
    let refusedAfter: number | undefined
    while (refusedAfter === undefined && Date.now() - rotatedAt < 10_000) {
      if ((await authenticated(here, credential.clientIdentifier, clientSecret)) === null) refusedAfter = Date.now() - rotatedAt
      else await new Promise((resolve) => setTimeout(resolve, 10))
    }
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
    let failedAfter: number | undefined
    while (failedAfter === undefined && Date.now() - cutAt < 10_000) {
      const answered = await authenticated(test, credential.clientIdentifier, clientSecret).then(Boolean, () => false)
      if (!answered) failedAfter = Date.now() - cutAt
      else await new Promise((resolve) => setTimeout(resolve, 10))
    }
    t.ok(failedAfter !== undefined && failedAfter < 2_000, `memory dropped ${failedAfter} ms after the connection was (memory lasts 5,000 ms)`)
    t.notOk(test.app.credentials.remembering)

    await proxy.restore()
    let back = false
    for (let attempt = 0; attempt < 100 && !back; attempt++) {
      back = await authenticated(test, credential.clientIdentifier, clientSecret).then(Boolean, () => false)
      if (!back) await new Promise((resolve) => setTimeout(resolve, 100))
    }
    t.ok(back, 'authenticates again once the database is back, without a restart')
    t.ok(await remembering(test), 'and remembers again')
  })
}
