import { writeFileSync } from 'node:fs'
import t from 'tap'
import { runCli } from '../src/cli/index.js'
import { loadConfig } from '../src/config.js'
import { openDatabase } from '../src/db/database.js'
import { buildTestApp, freshDatabase } from './helpers/app.js'
import { callLegacy } from './helpers/legacy.js'

function capture() {
  const io = { stdout: '', stderr: '', out: (text: string) => void (io.stdout += text), err: (text: string) => void (io.stderr += text) }
  return io
}

t.test('migrate, then create, list and revoke API credentials', async (t) => {
  const { database, drop } = await freshDatabase({ dataDir: t.testdir() })
  t.teardown(drop)
  const config = loadConfig({})
  const run = async (...argv: string[]) => {
    const io = capture()
    const code = await runCli(argv, io, { config, database })
    return { code, ...io }
  }

  const migrate = await run('migrate')
  t.equal(migrate.code, 0)
  t.match(migrate.stdout, /^(Applied: 20261127000000_init(, \d{14}_[a-z_]+)*|No pending migrations to apply\.)\n$/)
  t.equal((await run('migrate')).stdout, 'No pending migrations to apply.\n', 'a second run applies nothing')

  const created = await run('api-credentials', 'create', '--identifier', 'billing-sync', '--description', 'nightly sync',
    '--permission', 'ListOAuthCredentials', '--allow-ip', '127.0.0.1')
  t.equal(created.code, 0)
  const secret = /Secret \(shown only now; only its hash is stored\):\n(\S+)\n$/.exec(created.stdout)?.[1]
  t.ok(secret && secret.length >= 40, 'prints the new secret once')

  const listed = await run('api-credentials', 'list')
  t.match(listed.stdout, /^billing-sync\tactive\tpermissions=ListOAuthCredentials\tips=127\.0\.0\.1\tnightly sync\n$/)
  t.notMatch(listed.stdout, secret as string, 'the list never shows a secret')

  const duplicate = await run('api-credentials', 'create', '--identifier', 'billing-sync')
  t.equal(duplicate.code, 1)
  t.equal(duplicate.stderr, 'An API credential "billing-sync" already exists\n')
  const badAction = await run('api-credentials', 'create', '--permission', 'DropEverything')
  t.equal(badAction.code, 1)
  t.match(badAction.stderr, /^Unknown action "DropEverything"/)
  const badIp = await run('api-credentials', 'create', '--allow-ip', 'localhost')
  t.equal(badIp.stderr, '"localhost" is not an IP address\n')
  // The rule of API_BOOTSTRAP_IDENTIFIER: HTTP Basic cannot carry a ':', and the column holds 128.
  for (const identifier of ['', 'two words', 'ops:admin', 'x'.repeat(200), 'new\nline']) {
    const refused = await run('api-credentials', 'create', '--identifier', identifier)
    t.equal(refused.code, 2, `${JSON.stringify(identifier.slice(0, 20))}: a usage error`)
    t.equal(refused.stderr, `Invalid --identifier ${JSON.stringify(identifier.slice(0, 40))}: 3 to 128 of A-Z a-z 0-9 . _ -\n`, 'one line')
  }

  t.equal((await run('api-credentials', 'revoke', 'billing-sync')).stdout, 'Revoked API credential "billing-sync".\n')
  const again = await run('api-credentials', 'revoke', 'billing-sync')
  t.equal(again.code, 1)
  t.equal(again.stderr, 'No active API credential "billing-sync".\n')
  t.match((await run('api-credentials', 'list')).stdout, /^billing-sync\trevoked \d{4}-/)
})

t.test('an API credential made with the CLI calls api.php within its permissions', async (t) => {
  const fresh = await freshDatabase({ dataDir: t.testdir() })
  const io = capture()
  const code = await runCli(['api-credentials', 'create', '--permission', 'ListOAuthCredentials'], io, {
    config: loadConfig({}),
    database: fresh.database,
  })
  t.equal(code, 0)
  const [, identifier, secret] = /"(.+)"\.\n.*\n(\S+)\n$/.exec(io.stdout) ?? []
  const test = await buildTestApp(t, {}, fresh)
  const auth = { username: identifier, password: secret, responsetype: 'json' }
  const list = await callLegacy(test, { action: 'ListOAuthCredentials', ...auth }, { auth: false })
  t.same(list.data, { result: 'success', clients: [] })
  const create = await callLegacy(test, { action: 'CreateOAuthCredential', ...auth }, { auth: false })
  t.equal(create.status, 403)
  t.equal(create.data.message, 'Invalid Permissions: API action "CreateOAuthCredential" is not allowed')
  // Revoking (the CLI's service, here through the running app) shuts the door at once.
  t.equal(await test.app.apiClients.revoke(identifier as string), true)
  const revoked = await callLegacy(test, { action: 'ListOAuthCredentials', ...auth }, { auth: false })
  t.equal(revoked.status, 403)
  t.equal(revoked.data.message, 'Authentication Failed')
})

t.test('usage errors: one line saying what is wrong, then the usage, exit 2', async (t) => {
  const cases: [string[], RegExp, RegExp][] = [
    [[], /^No command given\.\n\n/, /Usage: npm run cli -- <command>/],
    [['frobnicate'], /^Unknown command "frobnicate"\.\n\n/, /Usage: npm run cli -- <command>/],
    [['api-credentials'], /^Unknown command "api-credentials"\.\n\n/, /api-credentials revoke <identifier>/],
    [['--bogus'], /^No command given\.\n\n/, /Usage: npm run cli -- <command>/],
    [['api-credentials', 'revoke'], /^Missing <identifier>\.\n\n/, /Usage: npm run cli -- api-credentials revoke <identifier>\n/],
    [['migrate', 'now'], /^Unexpected argument "now"\.\n\n/, /Usage: npm run cli -- migrate\n/],
    [['api-credentials', 'create', '--bogus'], /^Unknown option '--bogus'/, /Usage: npm run cli -- api-credentials create \[options\]/],
  ]
  for (const [argv, first, then] of cases) {
    const io = capture()
    t.equal(await runCli(argv, io), 2, argv.join(' ') || '(nothing)')
    t.match(io.stderr, first, `${argv.join(' ')}: what is wrong`)
    t.match(io.stderr, then, `${argv.join(' ')}: the usage`)
    t.equal(io.stdout, '', 'nothing on stdout')
  }
  const help = capture()
  t.equal(await runCli(['--help'], help), 0)
  t.match(help.stdout, /api-credentials create \[options\]/)
  t.match(help.stdout, /Exit codes: 0 done, 1 refused/)
  const createHelp = capture()
  t.equal(await runCli(['api-credentials', 'create', '--help'], createHelp), 0, 'help of one command')
  t.match(createHelp.stdout, /^Usage: npm run cli -- api-credentials create \[options\]\n/)
  t.match(createHelp.stdout, /--permission <action> +repeatable/)
  t.match(createHelp.stdout, /UpdateOAuthCredential/, 'names the actions a permission may be')
})

t.test('the embedded database refuses a second process while one has it open', async (t) => {
  const dataDir = t.testdir()
  const first = await openDatabase({ dataDir })
  t.teardown(() => first.close())
  // Make the lock name another live process (this test's parent) as the owner.
  writeFileSync(`${dataDir}/owner.pid`, String(process.ppid))
  await t.rejects(openDatabase({ dataDir }), /is in use by process \d+\. Stop that process first, or set DATABASE_URL/)
})
