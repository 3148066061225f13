import net from 'node:net'
import path from 'node:path'
import t, { type Test } from 'tap'
import { startServer } from '../../src/app.js'
import { loadConfig } from '../../src/config.js'
import { describeStartFailure } from '../../src/start-failure.js'
import { freshDatabaseEnv } from '../helpers/app.js'
import { startServerProcess } from '../helpers/server-process.js'

t.test('a bad setting stops the server before it opens anything: one line naming it, exit 1', async (t) => {
  const server = startServerProcess(t, { PORT: '70000', DATA_DIR: t.testdir() })
  const [code] = await server.exited
  t.equal(code, 1)
  t.match(server.stderr(), /^Invalid configuration: PORT="70000" \([^\n]+\)\n$/)
})

t.test('a port in use stops the server process with one line saying what to do, exit 1', async (t) => {
  const env = await freshDatabaseEnv(t)
  const blocker = await listeningBlocker(t)
  const server = startServerProcess(t, { ...env, PORT: String(blocker) })
  const [code] = await server.exited
  t.equal(code, 1)
  t.equal(server.stderr(), `Cannot listen on 127.0.0.1:${blocker}: the port is in use. Stop what uses it, or set PORT to a free port.\n`)
})

t.test('a METRICS_PORT in use stops the server process too: one line naming METRICS_PORT, exit 1', async (t) => {
  const env = await freshDatabaseEnv(t)
  const blocker = await listeningBlocker(t)
  const server = startServerProcess(t, { ...env, METRICS_PORT: String(blocker) })
  // Such a start once went on without its metrics: wait for an exit or for it to listen.
  t.notOk(await server.waitFor(/^Server listening/).then(() => true, () => false), 'it does not listen')
  server.child.kill('SIGKILL') // when it listened anyway; after an exit, nothing
  const [code] = await server.exited
  t.equal(code, 1)
  t.equal(server.stderr(), `Cannot listen on 127.0.0.1:${blocker}: the port is in use. Stop what uses it, or set METRICS_PORT to a free port.\n`)
})

t.test('each start-up failure is one line naming what to do', async (t) => {
  const run = async (env: Record<string, string>) => {
    const config = loadConfig({ LOG_LEVEL: 'silent', ...env })
    const error = await startServer(config, { logger: false }).then(
      async ({ app }) => (await app.close(), null),
      (caught: unknown) => caught,
    )
    return describeStartFailure(error, config)
  }
  const file = path.join(t.testdir({ 'a-file': '' }), 'a-file')
  t.equal(
    await run({ DATA_DIR: path.join(file, 'data') }),
    `DATA_DIR "${path.join(file, 'data')}" cannot be used (ENOTDIR): make it a folder this user can write, or set DATA_DIR to one.`,
  )
  t.equal(
    await run({ DATABASE_URL: 'postgres://someone:hunter2@127.0.0.1:1/none' }),
    'Cannot reach PostgreSQL at 127.0.0.1:1 (DATABASE_URL): start it, or fix DATABASE_URL.',
    'names the server, never the password',
  )
  t.match(
    await run({ DATABASE_URL: 'postgres://someone:hunter2@nowhere.invalid/none' }),
    /^Cannot find the host of DATABASE_URL \(nowhere\.invalid:5432, (ENOTFOUND|EAI_AGAIN)\): fix DATABASE_URL, or the name service\.$/,
    'a host no name service knows (.invalid never resolves)',
  )
  const env = await freshDatabaseEnv(t)
  t.equal(
    await run({ ...env, HOST: '192.0.2.1', PORT: '0' }),
    'Cannot listen on 192.0.2.1:0 (EADDRNOTAVAIL): set HOST to an address of this machine, such as 127.0.0.1 or 0.0.0.0.',
  )
  const blocker = await listeningBlocker(t)
  t.equal(
    await run({ ...env, PORT: String(blocker) }),
    `Cannot listen on 127.0.0.1:${blocker}: the port is in use. Stop what uses it, or set PORT to a free port.`,
  )
  const serverUrl = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test'
  const missing = new URL(serverUrl)
  missing.pathname = '/no_such_database_here'
  const reply = await run({ DATABASE_URL: missing.toString() })
  // Without a reachable PostgreSQL (PGlite-only machines) the message is the unreachable one.
  t.match(reply, /^(The database "no_such_database_here" does not exist on [^:]+:\d+: create it \(createdb no_such_database_here\), or fix DATABASE_URL\.|Cannot reach PostgreSQL at .+)$/)
})

async function listeningBlocker(t: Test): Promise<number> {
  const blocker = net.createServer()
  await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve))
  t.teardown(() => blocker.close())
  return (blocker.address() as net.AddressInfo).port
}

t.test('the rarer start-up failures: the same one-line form', async (t) => {
  const config = loadConfig({ PORT: '80', HOST: 'api.internal', DATABASE_URL: 'postgres://app:secret@db.internal:6432/credentials' })
  const errno = (fields: Record<string, string>) => Object.assign(new Error('system error'), fields)
  t.equal(
    describeStartFailure(errno({ code: 'EACCES', syscall: 'listen' }), config),
    'Cannot listen on api.internal:80: not allowed (ports below 1024 need privileges). Set PORT above 1023.',
  )
  t.equal(
    describeStartFailure(Object.assign(errno({ code: 'EACCES', syscall: 'listen' }), { port: 443 }), { ...config, METRICS_PORT: 443 }),
    'Cannot listen on api.internal:443: not allowed (ports below 1024 need privileges). Set METRICS_PORT above 1023.',
    'the metrics listener: its own port and setting',
  )
  t.equal(
    describeStartFailure(new Error('listen failed', { cause: errno({ code: 'ENOTFOUND', syscall: 'getaddrinfo', hostname: 'api.internal' }) }), config),
    'Cannot listen on api.internal: no such host. Set HOST to an address of this machine, such as 127.0.0.1 or 0.0.0.0.',
    'found in the cause chain',
  )
  t.equal(
    describeStartFailure(new AggregateError([errno({ code: '28P01' })], 'login'), config),
    'PostgreSQL on db.internal:6432 refused the login of DATABASE_URL (28P01): fix its user or password.',
  )
  t.equal(describeStartFailure(new Error('something odd\n    at frame'), config), 'Failed to start: something odd', 'no stack trace')
  t.equal(describeStartFailure('a string'), 'Failed to start: a string')
})
