import t, { type Test } from 'tap'
import { buildServer } from '../../src/app.js'
import { loadConfig } from '../../src/config.js'
import { unavailableReason } from '../../src/http/errors.js'
import { loggerOptions } from '../../src/logging.js'
import { buildTestApp, freshDatabase, type TestApp } from '../helpers/app.js'
import { callLegacy, createCredential } from '../helpers/legacy.js'
import { captureLogs } from '../helpers/logs.js'
import { basic } from '../helpers/rest.js'
import { startServerProcess } from '../helpers/server-process.js'
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy.js'

/** A short bound keeps the test quick; what is tested is that the configured bound holds. */
const TIMEOUT_MS = 2_000
/** What a loaded machine may add to the bound (two cores shared by many test files). */
const SLACK_MS = 2_000

type LogLine = { level: number; msg: string; reason?: string; refused?: number; outageMs?: number; err?: unknown }
const parsed = (lines: string[]) => lines.map((line) => JSON.parse(line) as LogLine)

/** The outage lines, once the probe (every second) has found the database back. */
async function outageLines(t: Test, lines: string[], refused: number) {
  for (const started = Date.now(); !lines.some((line) => line.includes('"database back"')) && Date.now() - started < 5_000; ) {
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  const logged = parsed(lines)
  const lost = logged.filter((line) => line.msg === 'database lost')
  const back = logged.filter((line) => line.msg === 'database back')
  t.equal(lost.length, 1, 'one "database lost" line')
  t.equal(back.length, 1, 'one "database back" line')
  t.equal(back[0]?.refused, refused, 'which counts the requests refused in between')
  const others = logged.filter((line) => !['database lost', 'database back', 'request completed'].includes(line.msg))
  t.same(others, [], 'no other line: no warning or stack per refused request')
  t.notOk(lines.some((line) => line.includes('"stack"')), 'no stack anywhere')
  return { lost: lost[0], back: back[0] }
}

// Runs on PGlite and PostgreSQL: the database refuses every write (a trigger raises what
// PostgreSQL sends when shut down under a session), then accepts them again.
t.test('an outage is logged in two lines, with the refusals counted in the second', async (t) => {
  const { lines, stream } = captureLogs()
  const test = await buildTestApp(t, {}, undefined, { logger: { ...loggerOptions('info'), stream } })
  const id = String((await createCredential(test, { name: 'Logged' })).credentialId)
  await test.sql(`CREATE FUNCTION fail_now() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN RAISE EXCEPTION 'terminating connection due to administrator command' USING ERRCODE = '57P01'; END $$`)
  await test.sql('CREATE TRIGGER fail_audit BEFORE INSERT ON audit_event FOR EACH ROW EXECUTE FUNCTION fail_now()')
  lines.length = 0

  const update = (n: number) => callLegacy(test, { action: 'UpdateOAuthCredential', credentialId: id, name: `n${n}`, responsetype: 'json' })
  const refused = await Promise.all(Array.from({ length: 40 }, (_, n) => update(n)))
  t.same(new Set(refused.map((answer) => answer.status)), new Set([503]), 'every write refused with 503')
  t.ok(refused.every((answer) => answer.headers['retry-after'] === '5'), 'each with Retry-After')
  t.equal(test.app.database.availability.available, false, 'the database is known to be lost')
  t.equal(await databaseUp(test), 0, 'oauth_database_up is 0 during the outage')

  await test.sql('DROP TRIGGER fail_audit ON audit_event')
  t.equal((await update(41)).status, 200, 'served again')
  const { lost } = await outageLines(t, lines, 40)
  t.equal(lost?.reason, '57P01', 'the lost line says why, in a few words')
  t.equal(lost?.level, 40, 'at warn level')
  t.equal(test.app.database.availability.available, true, 'and known to be back')
  t.equal(await databaseUp(test), 1, 'and 1 once the probe found the database back')
})

/** The oauth_database_up gauge as /metrics shows it. */
async function databaseUp(test: TestApp): Promise<number> {
  const body = (await test.app.inject('/metrics')).body
  return Number(/^oauth_database_up (\S+)$/m.exec(body)?.[1])
}

// A stall needs a database behind a socket: PostgreSQL behind a proxy the test holds.
const serverUrl = process.env.TEST_DATABASE_URL
if (serverUrl) {
  const upstream = new URL(serverUrl)
  const startProxy = async (t: Test) => {
    const proxy = await startTcpProxy({ host: upstream.hostname, port: Number(upstream.port || 5432) })
    t.teardown(() => proxy.close())
    return proxy
  }
  const proxiedApp = (t: Test, proxy: TcpProxy, options: { logger?: object } = {}) =>
    buildTestApp(t, { DATABASE_TIMEOUT_MS: String(TIMEOUT_MS) }, undefined, {
      ...options,
      connect: (database) => ({ url: proxy.via((database as { url: string }).url) }),
    })

  /** Every kind of endpoint, timed. */
  const everyEndpoint = (test: TestApp, id: string) => {
    const authorization = basic(test.admin)
    const rest = (method: 'GET' | 'PATCH', url: string, payload?: object) =>
      test.app.inject({
        method,
        url,
        headers: { authorization, ...(payload ? { 'content-type': 'application/merge-patch+json' } : {}) },
        payload: payload ? JSON.stringify(payload) : undefined,
      })
    const calls = {
      'REST get': () => rest('GET', `/oauth/credentials/${id}`),
      'REST list': () => rest('GET', '/oauth/credentials'),
      'REST patch': () => rest('PATCH', `/oauth/credentials/${id}`, { description: 'during the stall' }),
      'REST events': () => rest('GET', `/oauth/credentials/${id}/events`),
      'api.php list': () => callLegacy(test, { action: 'ListOAuthCredentials', responsetype: 'json' }),
      'api.php update': () => callLegacy(test, { action: 'UpdateOAuthCredential', credentialId: id, name: 'stalled', responsetype: 'json' }),
      readyz: () => test.app.inject('/readyz'),
    }
    return Promise.all(
      Object.entries(calls).map(async ([name, call]) => {
        const started = Date.now()
        const answer = await call()
        const status = 'statusCode' in answer ? answer.statusCode : answer.status
        return { name, status, retryAfter: answer.headers['retry-after'], ms: Date.now() - started }
      }),
    )
  }

  t.test('a database that holds every byte: 503 with Retry-After within the bound, then served again at once', async (t) => {
    const proxy = await startProxy(t)
    const test = await proxiedApp(t, proxy)
    const id = String((await createCredential(test, { name: 'Stalled' })).credentialId)

    proxy.hold()
    // First with the pool's open connections (no answer), then with new ones (no handshake).
    for (const round of ['open connections', 'new connections']) {
      for (const answer of await everyEndpoint(test, id)) {
        t.equal(answer.status, 503, `${round}: ${answer.name} answers 503`)
        t.equal(answer.retryAfter, '5', `${round}: ${answer.name} says when to retry`)
        t.ok(answer.ms < TIMEOUT_MS + SLACK_MS, `${round}: ${answer.name} within the bound (${answer.ms} ms)`)
      }
    }
    t.equal((await test.app.inject('/healthz')).statusCode, 200, 'the process is alive')

    proxy.release()
    for (const answer of await everyEndpoint(test, id)) {
      t.ok(answer.status === 200, `the first ${answer.name} after the stall is served (${answer.status})`)
    }
    t.equal(test.app.database.availability.available, true, 'the database is known to be back')
  })

  t.test('an 8 s outage under traffic writes two outage lines, however many requests it refuses', async (t) => {
    const proxy = await startProxy(t)
    const { lines, stream } = captureLogs()
    const test = await proxiedApp(t, proxy, { logger: { ...loggerOptions('info'), stream } })
    const id = String((await createCredential(test, { name: 'Busy' })).credentialId)
    lines.length = 0

    let refused = 0
    let outage = true
    const worker = async () => {
      while (outage) {
        const answer = await everyEndpoint(test, id)
        // /readyz answers 503 too, but it is a probe, not a refused request.
        refused += answer.filter((a) => a.status === 503 && a.name !== 'readyz').length
      }
    }
    await proxy.cut()
    const started = Date.now()
    const workers = Array.from({ length: 4 }, worker)
    await new Promise((resolve) => setTimeout(resolve, 8_000))
    outage = false
    await Promise.all(workers)
    await proxy.restore()
    const served = await callLegacy(test, { action: 'UpdateOAuthCredential', credentialId: id, name: 'back', responsetype: 'json' })
    t.equal(served.status, 200, 'served again')

    t.ok(refused > 100, `the outage refused many requests (${refused})`)
    const { back } = await outageLines(t, lines, refused)
    t.ok((back?.outageMs ?? 0) >= 7_000 && (back?.outageMs ?? 0) < Date.now() - started + 1_000, `the back line says how long (${back?.outageMs} ms)`)
    t.comment(`outage: ${refused} refused requests, ${lines.length} log lines of which 2 about the outage`)
  })

  t.test('starting on a database that holds every byte: fails within the bound, in one line', async (t) => {
    const proxy = await startProxy(t)
    proxy.hold()
    const { database, drop } = await freshDatabase()
    t.teardown(drop)
    const url = proxy.via((database as { url: string }).url)

    const config = loadConfig({ DATABASE_URL: url, DATABASE_TIMEOUT_MS: String(TIMEOUT_MS), LOG_LEVEL: 'silent' })
    const started = Date.now()
    const error = await buildServer(config, { logger: false }).then(() => null, (caught: unknown) => caught)
    const ms = Date.now() - started
    t.not(unavailableReason(error), null, 'the start fails: database unavailable')
    t.ok(ms < TIMEOUT_MS + SLACK_MS, `within the bound (${ms} ms)`)

    const server = startServerProcess(t, { DATABASE_URL: url, DATABASE_TIMEOUT_MS: String(TIMEOUT_MS) })
    const [code] = await server.exited
    t.equal(code, 1, 'the server exits 1')
    t.match(
      server.stderr(),
      /^Cannot reach PostgreSQL at 127\.0\.0\.1:\d+ \(DATABASE_URL\): start it, or fix DATABASE_URL\.\n$/,
      'with one clear line',
    )
  })
}
