import t from 'tap'
import { buildTestApp, freshDatabase } from '../helpers/app.js'
import { startTcpProxy } from '../helpers/tcp-proxy.js'

// One app for the in-process checks (building one is the slow part); the last closes its database.
const { app } = await buildTestApp(t)

t.test('healthz and readyz answer 200 while the database is up; both are documented', async (t) => {
  for (const url of ['/healthz', '/readyz']) {
    const response = await app.inject(url)
    t.equal(response.statusCode, 200, url)
    t.same(response.json(), { status: 'ok' }, url)
  }

  type Operation = { operationId: string; tags: string[]; security: unknown[]; responses: Record<string, unknown> }
  const { paths } = app.swagger() as { paths: Record<string, { get?: Operation }> }
  const health = paths['/healthz']?.get
  const ready = paths['/readyz']?.get
  t.equal(health?.operationId, 'getHealth')
  t.equal(ready?.operationId, 'getReadiness')
  t.same([health?.tags, ready?.tags], [['ops'], ['ops']])
  t.same([health?.security, ready?.security], [[], []], 'no credentials needed: load balancers call them')
  t.same(Object.keys(ready?.responses ?? {}).sort(), ['200', '503'])
})

t.test('with the database closed, readyz answers 503 with a reason and healthz stays 200', async (t) => {
  await app.database.close()
  const ready = await app.inject('/readyz')
  t.equal(ready.statusCode, 503)
  t.same(ready.json(), { status: 'unavailable', reason: 'database unreachable' })
  t.equal(ready.headers['retry-after'], '5')
  const alive = await app.inject('/healthz')
  t.equal(alive.statusCode, 200, 'the process is alive: no reason to restart it')
})

// Losing the connection needs a database behind a socket: PostgreSQL (PGlite runs in-process,
// and the test above covers a closed PGlite database).
if (process.env.TEST_DATABASE_URL) {
  t.test('readyz follows the database: 503 while it is unreachable or hangs, 200 when it returns', async (t) => {
    const { database, drop } = await freshDatabase()
    if (!('url' in database)) throw new Error('TEST_DATABASE_URL is set: expected a PostgreSQL database')
    const direct = new URL(database.url)
    const proxy = await startTcpProxy({ host: direct.hostname, port: Number(direct.port || 5432) })
    t.teardown(() => proxy.close())
    const { app: proxiedApp } = await buildTestApp(t, {}, { database: { url: proxy.via(database.url) }, drop })
    const readiness = async () => {
      const response = await proxiedApp.inject('/readyz')
      return { status: response.statusCode, body: response.json() as unknown }
    }

    t.same(await readiness(), { status: 200, body: { status: 'ok' } }, 'up')
    await proxy.cut()
    t.same(await readiness(), { status: 503, body: { status: 'unavailable', reason: 'database unreachable' } }, 'cut')
    t.equal((await proxiedApp.inject('/healthz')).statusCode, 200, 'still alive')
    await proxy.restore()
    t.same(await readiness(), { status: 200, body: { status: 'ok' } }, 'back')

    await proxy.stall()
    const started = Date.now()
    t.same(await readiness(), { status: 503, body: { status: 'unavailable', reason: 'database timed out' } }, 'hangs')
    t.ok(Date.now() - started < 5000, 'answers within the readiness timeout, not when the database does')
    await proxy.restore()
    t.same(await readiness(), { status: 200, body: { status: 'ok' } }, 'back again')
  })
}
