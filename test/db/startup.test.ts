import { spawnSync } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import path from 'node:path'
import t from 'tap'
import { buildServer, startServer } from '../../src/app.js'
import { loadConfig } from '../../src/config.js'
import { openDatabase } from '../../src/db/database.js'
import { unavailableReason } from '../../src/http/errors.js'
import { freshDatabase, pgliteImage } from '../helpers/app.js'
import { callLegacy } from '../helpers/legacy.js'

t.test('credentials and their secrets survive a restart', async (t) => {
  const fresh = await freshDatabase({ dataDir: t.testdir() })
  t.teardown(fresh.drop)
  const config = loadConfig({ LOG_LEVEL: 'silent', CLIENT_IDENTIFIER_PREFIX: 'DISK' })
  const first = await startServer({ ...config, PORT: 0 }, { database: fresh.database, logger: false })
  const admin = first.firstAdmin as { identifier: string; secret: string }
  const created = await callLegacy(
    { app: first.app, admin },
    { action: 'CreateOAuthCredential', grantType: 'authorization_code', name: 'Kept', scope: 'openid', responsetype: 'json' },
  )
  t.match(created.data.clientIdentifier, /^DISK\./, 'the configured prefix')
  await first.app.close()

  const second = await buildServer(config, { database: fresh.database, logger: false })
  t.teardown(() => second.app.close())
  const listed = await callLegacy({ app: second.app, admin }, { action: 'ListOAuthCredentials', responsetype: 'json' })
  t.same((listed.data.clients as { name: string }[]).map((client) => client.name), ['Kept'])
  const identifier = String(created.data.clientIdentifier)
  t.ok(await second.app.credentials.authenticate(identifier, String(created.data.clientSecret)), 'the secret still works')
})

t.test('an unreachable PostgreSQL stops the start with a "database unavailable" error', async (t) => {
  const config = loadConfig({ DATABASE_URL: 'postgres://postgres@127.0.0.1:1/none', LOG_LEVEL: 'silent' })
  const error = await buildServer(config, { logger: false }).then(() => null, (caught: unknown) => caught)
  t.ok(error instanceof Error, 'the start fails')
  t.not(unavailableReason(error), null, 'and says the database cannot be reached')
})

t.test('after a crash, the embedded database opens again: a stale lock is taken over', async (t) => {
  for (const owner of [String(spawnSync(process.execPath, ['-e', '']).pid), 'not a pid']) {
    const dataDir = t.testdir()
    writeFileSync(path.join(dataDir, 'owner.pid'), owner)
    const database = await openDatabase({ dataDir, image: await pgliteImage() })
    t.same(await database.query('SELECT count(*)::int AS n FROM credential', []), [{ n: 0 }], `opened over a lock naming ${JSON.stringify(owner)}`)
    await database.close()
  }
})
