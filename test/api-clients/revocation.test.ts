import t from 'tap'
import { buildTestApp, freshDatabaseFor, type TestApp } from '../helpers/app.js'
import { cli } from '../helpers/cli.js'
import { callRest } from '../helpers/rest.js'

// A caller's API credential is kept in memory after its first request (src/api-clients/service.ts).
// Revoking it, wherever that happens, must shut the door on every process at once.

const caller = { identifier: 'billing-sync', secret: '' }

async function listStatus(test: TestApp, auth: { identifier: string; secret: string }): Promise<number> {
  return (await callRest(test, { method: 'GET', url: '/oauth/credentials', auth })).status
}

/** Milliseconds from `since` until `check` holds, asked every 2 ms for up to 10 s; undefined if never. */
async function msUntil(check: () => Promise<boolean>, since: number): Promise<number | undefined> {
  while (Date.now() - since < 10_000) {
    if (await check()) return Date.now() - since
    await new Promise((resolve) => setTimeout(resolve, 2))
  }
  return undefined
}

t.test('revoked in this process: the next request is refused', async (t) => {
  const test = await buildTestApp(t)
  const auth = { ...caller, ...(await test.app.apiClients.create({ identifier: caller.identifier })) }
  t.equal(await listStatus(test, auth), 200, 'read, and remembered')
  t.equal(await listStatus(test, auth), 200, 'from memory')
  t.equal(await test.app.apiClients.revoke(auth.identifier), true)
  t.equal(await listStatus(test, auth), 401, 'refused at once')
})

const serverUrl = process.env.TEST_DATABASE_URL
if (serverUrl) {
  t.test('revoked by the CLI or another replica: refused by every replica within 100 ms', async (t) => {
    const fresh = await freshDatabaseFor(t)
    const replicas = [await buildTestApp(t, {}, fresh), await buildTestApp(t, {}, fresh), await buildTestApp(t, {}, fresh)]
    const [first, second, third] = replicas as [TestApp, TestApp, TestApp]
    for (const [revokedBy, revoke] of [
      ['the CLI', async (identifier: string) => (await cli({ database: fresh.database }, ['api-credentials', 'revoke', identifier])).code === 0],
      ['a replica', (identifier: string) => third.app.apiClients.revoke(identifier)],
    ] as const) {
      const identifier = `${caller.identifier}-${revokedBy.replace(/\W/g, '')}`
      const auth = { identifier, secret: (await first.app.apiClients.create({ identifier })).secret }
      for (const replica of [first, second]) {
        t.ok((await msUntil(async () => replica.app.apiClients.remembering, Date.now())) !== undefined, 'listening')
        t.equal(await listStatus(replica, auth), 200, 'read, and remembered')
      }
      t.ok(await revoke(identifier), `revoked by ${revokedBy}`)
      const revokedAt = Date.now()
      const refusedAfter = await Promise.all(
        [first, second].map((replica) => msUntil(async () => (await listStatus(replica, auth)) === 401, revokedAt)),
      )
      refusedAfter.forEach((ms, replica) =>
        t.ok(ms !== undefined && ms < 100, `revoked by ${revokedBy}: replica ${replica + 1} refuses after ${ms} ms (memory lasts 5,000 ms)`),
      )
    }
  })
}
