import { randomBytes } from 'node:crypto'
import pg from 'pg'
import t from 'tap'
import { CONSISTENCY_SQL, inconsistencies, type CredentialTrail } from '../../bench/consistency.js'
import { buildTestApp } from '../helpers/app.js'
import { callLegacy, createCredential } from '../helpers/legacy.js'
import { callRest, type Problem } from '../helpers/rest.js'
import { startTcpProxy } from '../helpers/tcp-proxy.js'

const UNAVAILABLE = { result: 'error', message: 'The service is temporarily unavailable. Please try again.' }

// Runs on PGlite and PostgreSQL alike: the database fails in the middle of a write (a trigger
// raises the error PostgreSQL sends when it is shut down under a session).
t.test('the database failing mid-transaction: 503, nothing half-written, then back to normal', async (t) => {
  const test = await buildTestApp(t)
  const id = String((await createCredential(test, { name: 'Before' })).credentialId)
  await test.sql(`CREATE FUNCTION fail_now() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN RAISE EXCEPTION 'terminating connection due to administrator command' USING ERRCODE = '57P01'; END $$`)
  await test.sql('CREATE TRIGGER fail_audit BEFORE INSERT ON audit_event FOR EACH ROW EXECUTE FUNCTION fail_now()')

  const failed = await callLegacy(test, {
    action: 'UpdateOAuthCredential',
    credentialId: id,
    name: 'After',
    redirectUri: ['https://app.example.com/cb'],
    responsetype: 'json',
  })
  t.equal(failed.status, 503)
  t.same(failed.data, UNAVAILABLE)
  const [row] = await test.sql<{ name: string; version: number }>('SELECT name, version FROM credential WHERE id = $1', [Number(id)])
  t.same(row, { name: 'Before', version: 1 }, 'the UPDATE before the failing INSERT was rolled back')
  t.same(await test.sql('SELECT uri FROM credential_redirect_uri'), [], 'and so were the redirect URIs')

  await test.sql('DROP TRIGGER fail_audit ON audit_event')
  const retried = await callLegacy(test, { action: 'UpdateOAuthCredential', credentialId: id, name: 'After', responsetype: 'json' })
  t.same(retried.data, { result: 'success', credentialId: id }, 'the same request works once the database is back')
  t.same(inconsistencies(await test.sql<CredentialTrail>(CONSISTENCY_SQL)), [])
})

// Losing the connection itself needs a server to lose: PostgreSQL behind a TCP proxy the test cuts.
const serverUrl = process.env.TEST_DATABASE_URL
if (serverUrl) {
  t.test('PostgreSQL unreachable: 503 with a clear message, no partial writes, recovery without restart', async (t) => {
    const upstream = new URL(serverUrl)
    const proxy = await startTcpProxy({ host: upstream.hostname, port: Number(upstream.port || 5432) })
    t.teardown(() => proxy.close())
    let direct = ''
    const test = await buildTestApp(t, {}, undefined, {
      connect: (database) => {
        direct = (database as { url: string }).url
        return { url: proxy.via(direct) }
      },
    })
    // Reads the rows straight from PostgreSQL, past the proxy.
    const client = new pg.Client({ connectionString: direct })
    await client.connect()
    t.teardown(() => client.end())
    const snapshot = async () => {
      const tables = []
      for (const table of ['credential', 'credential_scope', 'credential_redirect_uri', 'audit_event', 'api_credential']) {
        tables.push((await client.query(`SELECT * FROM ${table} ORDER BY 1, 2`)).rows)
      }
      return JSON.stringify(tables)
    }
    const ids = await Promise.all(['one', 'two', 'three'].map(async (name) => String((await createCredential(test, { name })).credentialId)))
    const before = await snapshot()

    await proxy.cut()
    for (const form of [
      { action: 'UpdateOAuthCredential', credentialId: ids[0], name: 'changed', responsetype: 'json' },
      { action: 'CreateOAuthCredential', grantType: 'authorization_code', name: 'new', scope: 'openid', responsetype: 'json' },
      { action: 'ListOAuthCredentials', responsetype: 'json' },
    ]) {
      const answer = await callLegacy(test, form)
      t.equal(answer.status, 503, `${form.action} while the database is gone`)
      t.same(answer.data, UNAVAILABLE)
    }
    const xml = await callLegacy(test, { action: 'DeleteOAuthCredential', credentialId: ids[1], responsetype: 'xml' })
    t.equal(xml.status, 503)
    t.equal(xml.data.message, UNAVAILABLE.message, 'in the caller\'s format')
    t.equal(await snapshot(), before, 'nothing was written')

    await proxy.restore()
    const back = await callLegacy(test, { action: 'UpdateOAuthCredential', credentialId: ids[0], name: 'changed', responsetype: 'json' })
    t.same(back.data, { result: 'success', credentialId: ids[0] }, 'the first request after the database returns succeeds')

    // Cut the connection while a burst of updates is in flight: once the first few are answered.
    let answered = 0
    const burst = Array.from({ length: 30 }, (_, n) => {
      const requestId = `burst-${n}-${randomBytes(4).toString('hex')}`
      const form = { action: 'UpdateOAuthCredential', credentialId: ids[n % 3], name: `burst ${n}`, responsetype: 'json' }
      return test.app
        .inject({
          method: 'POST',
          url: '/includes/api.php',
          headers: { 'x-request-id': requestId },
          payload: { username: test.admin.identifier, password: test.admin.secret, ...form },
        })
        .then((response) => {
          if (++answered === 3) void proxy.cut()
          return { requestId, status: response.statusCode, body: response.json() as Record<string, unknown> }
        })
    })
    const answers = await Promise.all(burst)
    t.ok(answers.every((answer) => answer.status === 200 || answer.status === 503), 'every answer is a success or a 503')
    for (const answer of answers.filter((a) => a.status === 503)) t.same(answer.body, UNAVAILABLE)
    await proxy.restore()

    const trails = (await client.query<CredentialTrail>(CONSISTENCY_SQL)).rows
    t.same(inconsistencies(trails), [], 'every credential agrees with its audit trail')
    const recorded = new Set(
      (await client.query<{ request_id: string }>("SELECT request_id FROM audit_event WHERE request_id LIKE 'burst-%'")).rows.map(
        (row) => row.request_id,
      ),
    )
    const acknowledged = answers.filter((answer) => answer.status === 200)
    t.ok(acknowledged.every((answer) => recorded.has(answer.requestId)), 'every acknowledged update is in the audit trail')
    t.ok(acknowledged.length >= 3 && acknowledged.length < answers.length, 'the cut came in the middle of the burst')
    t.comment(`burst: ${acknowledged.length} acknowledged, ${answers.length - acknowledged.length} answered 503`)
    const again = await callLegacy(test, { action: 'ListOAuthCredentials', responsetype: 'json' })
    t.equal(again.status, 200, 'and the service serves again')
  })
}

if (serverUrl) {
  t.test('PostgreSQL refusing new connections (ALLOW_CONNECTIONS false): 503 with Retry-After, then back', async (t) => {
    let url = ''
    const test = await buildTestApp(t, {}, undefined, {
      connect: (database) => {
        url = (database as { url: string }).url
        return database
      },
    })
    const name = new URL(url).pathname.slice(1)
    const admin = new pg.Client({ connectionString: serverUrl })
    await admin.connect()
    const allowConnections = (allow: boolean) => admin.query(`ALTER DATABASE "${name}" ALLOW_CONNECTIONS ${allow}`)
    t.teardown(async () => {
      await allowConnections(true)
      await admin.end()
    })
    const { credentialId } = await createCredential(test, { name: 'kept' })

    await allowConnections(false)
    await admin.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1', [name])
    // Once every connection is gone, a request cannot fail on one that just ended ("Connection terminated").
    const connected = async () => Number((await admin.query('SELECT count(*) FROM pg_stat_activity WHERE datname = $1', [name])).rows[0].count)
    for (const deadline = Date.now() + 5000; (await connected()) > 0 && Date.now() < deadline; ) await new Promise((resolve) => setTimeout(resolve, 50))
    await new Promise((resolve) => setTimeout(resolve, 100)) // and the pool has heard of it
    // The pool's connections are gone, and a new one is refused: 'database … is not currently accepting connections'.
    const refused = await callRest<Problem>(test, { method: 'GET', url: `/oauth/credentials/${credentialId}` })
    t.equal(refused.status, 503, 'the database is unavailable, not the service broken')
    t.equal(refused.headers['retry-after'], '5')
    const legacy = await callLegacy(test, { action: 'ListOAuthCredentials', responsetype: 'json' })
    t.same([legacy.status, legacy.data], [503, UNAVAILABLE])

    await allowConnections(true)
    const back = await callRest(test, { method: 'GET', url: `/oauth/credentials/${credentialId}` })
    t.equal(back.status, 200, 'served again once connections are allowed')
  })
}
