import net from 'node:net'
import t from 'tap'
import { buildServer, startServer } from '../src/app.js'
import { loadConfig } from '../src/config.js'
import { loggerOptions } from '../src/logging.js'
import { freshDatabase } from './helpers/app.js'
import { callLegacy } from './helpers/legacy.js'
import { captureLogs } from './helpers/logs.js'

t.test('the first start on an empty database creates one admin API credential, once it listens', async (t) => {
  const fresh = await freshDatabase({ dataDir: t.testdir() })
  t.teardown(fresh.drop)
  const blocker = net.createServer()
  await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve))
  t.teardown(() => blocker.close())
  const port = (blocker.address() as net.AddressInfo).port

  const busy = loadConfig({ LOG_LEVEL: 'silent', PORT: String(port) })
  await t.rejects(startServer(busy, { database: fresh.database, logger: false }), { code: 'EADDRINUSE' })
  const afterFailure = await buildServer(busy, { database: fresh.database, logger: false })
  t.equal(await afterFailure.app.apiClients.list().then((all) => all.length), 0, 'a start that could not listen made no admin')
  await afterFailure.app.close()

  const config = loadConfig({ LOG_LEVEL: 'silent', PORT: '0' })
  const first = await startServer(config, { database: fresh.database, logger: false })
  const admin = first.firstAdmin
  t.equal(admin?.identifier, 'admin')
  t.match(admin?.secret, /^[A-Za-z0-9+/]{43}=$/)
  const test = { app: first.app, admin: admin as { identifier: string; secret: string } }
  const list = await callLegacy(test, { action: 'ListOAuthCredentials', responsetype: 'json' })
  t.same(list.data, { result: 'success', clients: [] }, 'the printed credential works')
  await first.app.close()

  const second = await startServer(config, { database: fresh.database, logger: false })
  t.equal(second.firstAdmin, null, 'a later start creates nothing')
  await second.app.close()
})

t.test('with bootstrap variables, no admin is made and the bootstrap credential works', async (t) => {
  const fresh = await freshDatabase({ dataDir: t.testdir() })
  t.teardown(fresh.drop)
  const secret = 'b'.repeat(40)
  const config = loadConfig({ LOG_LEVEL: 'silent', API_BOOTSTRAP_IDENTIFIER: 'deployer', API_BOOTSTRAP_SECRET: secret })
  const built = await startServer({ ...config, PORT: 0 }, { database: fresh.database, logger: false })
  t.teardown(() => built.app.close())
  t.equal(built.firstAdmin, null)
  const test = { app: built.app, admin: { identifier: 'deployer', secret } }
  t.equal((await callLegacy(test, { action: 'ListOAuthCredentials', responsetype: 'json' })).data.result, 'success')
  const [row] = await (await built.app.database.prisma()).apiCredential.findMany({ where: { identifier: 'deployer' } })
  t.not(row?.secretHash, secret, 'only a digest of the bootstrap secret is stored')
})

t.test('a revoked bootstrap credential stays revoked when the service starts again', async (t) => {
  const fresh = await freshDatabase({ dataDir: t.testdir() })
  t.teardown(fresh.drop)
  const secret = 'c'.repeat(40)
  const config = loadConfig({ LOG_LEVEL: 'silent', API_BOOTSTRAP_IDENTIFIER: 'deployer', API_BOOTSTRAP_SECRET: secret })
  const list = (app: typeof first.app) =>
    callLegacy({ app, admin: { identifier: 'deployer', secret } }, { action: 'ListOAuthCredentials', responsetype: 'json' })
  const first = await buildServer(config, { database: fresh.database, logger: false })
  t.equal((await list(first.app)).data.result, 'success')
  t.equal(await first.app.apiClients.revoke('deployer'), true, 'revoked, as an operator does after a leak')
  await first.app.close()

  const { lines, stream } = captureLogs()
  const again = await buildServer(config, { database: fresh.database, logger: { ...loggerOptions('info'), stream } })
  t.teardown(() => again.app.close())
  const refused = await list(again.app)
  t.equal(refused.status, 403, 'the same secret is refused after the restart')
  t.equal(refused.data.message, 'Authentication Failed')
  const warned = lines.map((line) => JSON.parse(line) as { level: number; msg: string; identifier?: string }).filter((line) => line.level === 40)
  t.match(warned, [{ identifier: 'deployer', msg: /^API_BOOTSTRAP_IDENTIFIER names a revoked API credential: it stays revoked\./ }], 'and the start says so')
})
