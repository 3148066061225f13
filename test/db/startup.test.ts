import { mkdtemp, rm } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import t from 'tap'
import { ApiClientError } from '../../src/api-clients/service.js'
import { buildServer } from '../../src/app.js'
import { loadConfig } from '../../src/config.js'
import { isDatabaseUnavailable } from '../../src/http/errors.js'
import { callLegacy } from '../helpers/legacy.js'

// The embedded default as an operator meets it: a data folder, a first admin, restarts.
t.test('PGlite in DATA_DIR: a first admin once, data and migrations kept across restarts', async (t) => {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'oauth-data-'))
  t.teardown(() => rm(dataDir, { recursive: true, force: true }))
  const config = loadConfig({ DATA_DIR: path.join(dataDir, 'nested'), LOG_LEVEL: 'silent', CLIENT_IDENTIFIER_PREFIX: 'DISK' })

  const first = await buildServer(config, { logger: false })
  const admin = first.firstAdmin
  t.equal(admin?.identifier, 'admin', 'the first start on an empty database makes an admin API credential')
  if (!admin) return
  const created = await callLegacy(
    { app: first.app, admin },
    { action: 'CreateOAuthCredential', grantType: 'authorization_code', name: 'Kept', scope: 'openid', responsetype: 'json' },
  )
  t.match(created.data.clientIdentifier, /^DISK\./, 'the configured prefix')
  await first.app.close()

  const second = await buildServer(config, { logger: false })
  t.teardown(() => second.app.close())
  t.equal(second.firstAdmin, null, 'no second admin on the next start')
  const listed = await callLegacy({ app: second.app, admin }, { action: 'ListOAuthCredentials', responsetype: 'json' })
  t.same((listed.data.clients as { name: string }[]).map((client) => client.name), ['Kept'], 'the credential survived')
  t.same(await second.app.database.migrate(), [], 'migrations are applied once')

  const apiClients = second.app.apiClients
  const refusals: [Parameters<typeof apiClients.create>[0], string][] = [
    [{ permissions: ['DropEverything'] }, 'Unknown action "DropEverything". Known: '],
    [{ allowedIps: ['10.0.0.300'] }, '"10.0.0.300" is not an IP address'],
    [{ identifier: 'admin' }, 'An API credential "admin" already exists'],
  ]
  for (const [input, message] of refusals) {
    const error = await apiClients.create(input).then(() => null, (caught: unknown) => caught)
    t.type(error, ApiClientError)
    t.match((error as Error).message, message)
  }
  const reader = await apiClients.create({ identifier: 'reader', description: 'reads', permissions: ['ListOAuthCredentials'], allowedIps: ['::1'] })
  t.match(reader.secret, /^[A-Za-z0-9+/]{43}=$/, '32 random bytes, shown once')
  await apiClients.revoke('admin')
  const summaries = await apiClients.list()
  t.match(summaries, [
    { identifier: 'admin', permissions: ['*'], allowedIps: [], description: 'created at first start', revokedAt: Date },
    { identifier: 'reader', permissions: ['ListOAuthCredentials'], allowedIps: ['::1'], description: 'reads', revokedAt: null },
  ])
  t.notOk(JSON.stringify(summaries).includes('secret'), 'the list carries no secret nor its hash')
})

t.test('an unreachable PostgreSQL stops the start with a "database unavailable" error', async (t) => {
  const config = loadConfig({ DATABASE_URL: 'postgres://postgres@127.0.0.1:1/none', LOG_LEVEL: 'silent' })
  const error = await buildServer(config, { logger: false }).then(() => null, (caught: unknown) => caught)
  t.ok(error instanceof Error, 'the start fails')
  t.ok(isDatabaseUnavailable(error), 'and says the database cannot be reached')
})
