import { execFile } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
import { promisify } from 'node:util'
import t from 'tap'
import { cli } from './helpers/cli.js'
import { loadConfig } from '../src/config.js'
import { openDatabase } from '../src/db/database.js'
import { PROJECT_ROOT } from '../src/paths.js'
import { buildTestApp, freshDatabaseEnv, freshDatabaseFor, pgliteImage } from './helpers/app.js'
import { callLegacy } from './helpers/legacy.js'

const secretOf = (stdout: string) => /Secret \(shown only now; only its hash is stored\):\n(\S+)\n$/.exec(stdout)?.[1] ?? ''

t.test('migrate, then create, list and revoke API credentials', async (t) => {
  const { database } = await freshDatabaseFor(t)
  const open = await openDatabase(database)
  t.teardown(() => open.close())
  const run = (...argv: string[]) => cli({ open }, argv)

  const migrate = await run('migrate')
  t.equal(migrate.code, 0)
  t.match(migrate.stdout, /^(Applied: 20261127000000_init(, \d{14}_[a-z_]+)*|No pending migrations to apply\.)\n$/)
  t.equal((await run('migrate')).stdout, 'No pending migrations to apply.\n', 'a second run applies nothing')

  const created = await run('api-credentials', 'create', '--identifier', 'billing-sync', '--description', 'nightly sync',
    '--permission', 'ListOAuthCredentials', '--allow-ip', '127.0.0.1')
  t.equal(created.code, 0)
  const secret = secretOf(created.stdout)
  t.ok(secret.length >= 40, 'prints the new secret once')

  const listed = await run('api-credentials', 'list')
  t.equal(
    listed.stdout,
    'identifier\tstatus\tpermissions\tallowed-ips\tdescription\nbilling-sync\tactive\tListOAuthCredentials\t127.0.0.1\tnightly sync\n',
    'a header, then one line per credential',
  )
  t.notMatch(listed.stdout, secret as string, 'the list never shows a secret')

  const duplicate = await run('api-credentials', 'create', '--identifier', 'billing-sync')
  t.equal(duplicate.code, 1)
  t.equal(duplicate.stderr, 'An API credential "billing-sync" already exists\n')
  // Option values the command cannot take are usage errors (2), found before the database is opened.
  const badAction = await run('api-credentials', 'create', '--permission', 'DropEverything')
  t.equal(badAction.code, 2)
  t.match(badAction.stderr, /^Unknown action "DropEverything"/)
  const badIp = await run('api-credentials', 'create', '--allow-ip', 'localhost')
  t.equal(badIp.code, 2)
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
  t.match((await run('api-credentials', 'list')).stdout, /\nbilling-sync\trevoked \d{4}-/)
  const rotateRevoked = await run('api-credentials', 'rotate', 'billing-sync')
  t.equal(rotateRevoked.code, 1, 'a revoked credential gets no new secret')
  t.equal(rotateRevoked.stderr, 'No active API credential "billing-sync"\n')

  const reused = await run('api-credentials', 'create', '--identifier', 'billing-sync')
  t.equal(reused.code, 0, 'a revoked identifier can be created again')
  t.match((await run('api-credentials', 'list')).stdout, /\nbilling-sync\tactive\t\*\tany\t\n$/, 'with the new settings only')
})

t.test('an API credential made with the CLI calls api.php within its permissions', async (t) => {
  const fresh = await freshDatabaseFor(t)
  const { database } = fresh
  const created = await cli({ database }, ['api-credentials', 'create', '--permission', 'ListOAuthCredentials'])
  t.equal(created.code, 0)
  const [, identifier, oldSecret] = /"(.+)"\.\n.*\n(\S+)\n$/.exec(created.stdout) ?? []
  const rotated = await cli({ database }, ['api-credentials', 'rotate', identifier as string])
  t.equal(rotated.code, 0)
  t.match(rotated.stdout, /^New secret for API credential ".+"\.\nSecret \(shown only now; only its hash is stored\):\n\S{40,}\n$/)
  const secret = secretOf(rotated.stdout)
  t.not(secret, oldSecret, 'rotate prints a new secret')
  const unknown = await cli({ database }, ['api-credentials', 'rotate', 'nobody'])
  t.equal(unknown.code, 1)
  t.equal(unknown.stderr, 'No active API credential "nobody"\n')

  const test = await buildTestApp(t, {}, fresh)
  const stale = { action: 'ListOAuthCredentials', username: identifier, password: oldSecret, responsetype: 'json' }
  t.equal((await callLegacy(test, stale, { auth: false })).status, 403, 'the secret before rotate is refused')
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
    [['api-credentials'], /^"api-credentials" needs one of: create, list, rotate, revoke\.\n\n/, /api-credentials revoke <identifier>/],
    [['--bogus'], /^No command given\.\n\n/, /Usage: npm run cli -- <command>/],
    [['api-credentials', 'revoke'], /^Missing <identifier>\.\n\n/, /Usage: npm run cli -- api-credentials revoke <identifier>\n/],
    [['migrate', 'now'], /^Unexpected argument "now"\.\n\n/, /Usage: npm run cli -- migrate\n/],
    [['api-credentials', 'create', '--bogus'], /^Unknown option '--bogus'/, /Usage: npm run cli -- api-credentials create \[options\]/],
  ]
  for (const [argv, first, then] of cases) {
    const io = await cli({}, argv)
    t.equal(io.code, 2, argv.join(' ') || '(nothing)')
    t.match(io.stderr, first, `${argv.join(' ')}: what is wrong`)
    t.match(io.stderr, then, `${argv.join(' ')}: the usage`)
    t.equal(io.stdout, '', 'nothing on stdout')
  }
  const help = await cli({}, ['--help'])
  t.equal(help.code, 0)
  t.match(help.stdout, /api-credentials create \[options\]/)
  t.match(help.stdout, /Exit codes: 0 done, 1 refused/)
  const groupHelp = await cli({}, ['api-credentials', '--help'])
  t.equal(groupHelp.code, 0, 'help of a group of commands')
  t.match(groupHelp.stdout, /api-credentials rotate <identifier>/)
  t.notMatch(groupHelp.stdout, /migrate/, 'the group alone')
  const createHelp = await cli({}, ['api-credentials', 'create', '--help'])
  t.equal(createHelp.code, 0, 'help of one command')
  t.match(createHelp.stdout, /^Usage: npm run cli -- api-credentials create \[options\]\n/)
  t.match(createHelp.stdout, /--permission <action> +repeatable/)
  t.match(createHelp.stdout, /UpdateOAuthCredential/, 'names the actions a permission may be')
})

t.test('the embedded database refuses a second process while one has it open', async (t) => {
  const dataDir = t.testdir()
  const first = await openDatabase({ dataDir, image: await pgliteImage() })
  t.teardown(() => first.close())
  const started = (pid: number) => {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]
  }
  // The lock names another live process (this test's parent) as the owner, with its start time.
  writeFileSync(`${dataDir}/owner.pid`, `${process.ppid} ${started(process.ppid)}`)
  await t.rejects(openDatabase({ dataDir }), /^The embedded database in .+ is in use by process \d+\. Stop that process first, or set DATABASE_URL/)
  const io = await cli({ config: loadConfig({ DATA_DIR: dataDir }) }, ['api-credentials', 'list'])
  t.equal(io.code, 1, 'the CLI exits 1')
  t.match(io.stderr, /^The embedded database in .+ is in use by process \d+\. [^\n]+\n$/, 'with one line')
  // A mistake in the command itself is told first: it does not need the database.
  for (const mistake of [['--permission', 'Nope'], ['--allow-ip', '999.1.1.1'], ['--identifier', 'a:b']]) {
    const refused = await cli({ config: loadConfig({ DATA_DIR: dataDir }) }, ['api-credentials', 'create', ...mistake])
    t.equal(refused.code, 2, `${mistake.join(' ')}: a usage error`)
    t.notMatch(refused.stderr, /in use/, `${mistake.join(' ')}: ${refused.stderr.trim()}`)
  }

  // The same live pid, but a start time that is not its own: a pid reused after a crash.
  await first.close()
  writeFileSync(`${dataDir}/owner.pid`, `${process.ppid} 1`)
  const second = await openDatabase({ dataDir })
  t.equal(readFileSync(`${dataDir}/owner.pid`, 'utf8'), `${process.pid} ${started(process.pid)}`, 'a stale lock is taken over')
  await second.close()
})

t.test('`npm run -s cli -- api-credentials list`, as the README runs it: stdout holds only its output', async (t) => {
  // As a user's shell has it: without this suite's TypeScript hooks and coverage.
  const { NODE_OPTIONS: _hooks, NODE_V8_COVERAGE: _coverage, ...env } = process.env
  const listed = await promisify(execFile)('npm', ['run', '-s', 'cli', '--', 'api-credentials', 'list'], {
    cwd: PROJECT_ROOT,
    env: { ...env, ...(await freshDatabaseEnv(t)) },
  })
  t.equal(listed.stdout, 'identifier\tstatus\tpermissions\tallowed-ips\tdescription\n', 'the header of an empty list, and nothing else')
})
