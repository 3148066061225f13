import pg from 'pg'
import t from 'tap'
import { loadConfig } from '../../src/config.js'
import { AuditRetention, RETENTION_SCHEDULE } from '../../src/credentials/retention.js'
import { AUDIT_RETENTION_LOCK, credentialStorage } from '../../src/credentials/storage.js'
import { buildTestApp, freshDatabase, type TestApp } from '../helpers/app.js'

const DAY_MS = 86_400_000

/** A credential made through the service, and `old` events of it dated `ageDays` back. */
async function credentialWithOldEvents(app: TestApp, old: number, ageDays: number) {
  const { credential } = await app.app.credentials.create(
    { grantType: 'authorization_code', name: 'Kept', scopes: ['openid'], redirectUris: [] },
    { actor: 'test', source: 'rest' },
  )
  await app.sql(
    `INSERT INTO audit_event (credential_id, actor, action, changed_fields, source, created_at)
     SELECT $1, 'test', 'update', '{name}', 'rest', now() - make_interval(days => $2) - make_interval(secs => k)
     FROM generate_series(1, $3) AS k`,
    [credential.credentialId, ageDays, old],
  )
  return credential.credentialId
}

const countEvents = async (app: TestApp) =>
  Number((await app.sql<{ n: bigint }>('SELECT count(*) AS n FROM audit_event'))[0]?.n)

t.test('AUDIT_RETENTION_DAYS: unset keeps every event; a value must be a whole number of days', async (t) => {
  t.equal(loadConfig({}).AUDIT_RETENTION_DAYS, undefined)
  t.equal(loadConfig({ AUDIT_RETENTION_DAYS: '90' }).AUDIT_RETENTION_DAYS, 90)
  for (const bad of ['0', '1.5', '-3', 'forever', '36501']) {
    t.throws(() => loadConfig({ AUDIT_RETENTION_DAYS: bad }), /AUDIT_RETENTION_DAYS/, `${bad} is refused`)
  }
  const app = await buildTestApp(t)
  t.equal(app.app.auditRetention, null, 'no retention job without the setting')
})

t.test('a round deletes the events older than the retention, in batches, and keeps the rest', async (t) => {
  const app = await buildTestApp(t, { AUDIT_RETENTION_DAYS: '30' })
  const retention = app.app.auditRetention as AuditRetention
  t.equal(retention.days, 30)
  const id = await credentialWithOldEvents(app, 2_500, 31)
  await app.sql(
    `INSERT INTO audit_event (credential_id, actor, action, changed_fields, source, created_at)
     SELECT $1, 'test', 'update', '{name}', 'rest', now() - make_interval(days => 29) FROM generate_series(1, 10)`,
    [id],
  )
  t.equal(await countEvents(app), 2_511, 'a create event, 2,500 old and 10 recent')

  const storage = credentialStorage(app.app.database)
  t.equal(await storage.pruneEvents(new Date(Date.now() - 30 * DAY_MS), 100), 100, 'one batch deletes at most its size')

  const round = await retention.prune()
  t.same(round, { deleted: 2_400, skipped: false }, `the rest of the old events, ${RETENTION_SCHEDULE.batch} at a time`)
  t.equal(await countEvents(app), 11, 'the recent events and the create event stay')
  t.same(await retention.prune(), { deleted: 0, skipped: false }, 'a second round finds nothing')

  const events = await app.app.credentials.events(id, { limit: 100 })
  t.equal(events.length, 11, 'the trail still reads')
  t.equal((await app.app.credentials.get({ credentialId: id })).credentialId, id, 'the credential itself is untouched')
})

t.test('the schedule prunes on its own, and stop() ends it', async (t) => {
  const app = await buildTestApp(t)
  await credentialWithOldEvents(app, 50, 10)
  const log = app.app.log
  const retention = new AuditRetention(credentialStorage(app.app.database), 7, log, {
    ...RETENTION_SCHEDULE,
    batch: 20,
    firstAfterMs: 10,
    everyMs: 50,
  })
  retention.start()
  t.teardown(() => retention.stop())
  // Bounded wait: the first round starts after 10 ms, but the machine may be busy.
  for (let waited = 0; (await countEvents(app)) > 1 && waited < 10_000; waited += 20) {
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
  t.equal(await countEvents(app), 1, 'the old events are gone without a call')
  await retention.stop()
  await credentialWithOldEvents(app, 5, 10)
  await new Promise((resolve) => setTimeout(resolve, 200))
  t.equal(await countEvents(app), 7, 'after stop() nothing more is deleted')
})

t.test(
  'with several replicas, one prunes: the others find the lock taken and skip their round',
  { skip: process.env.TEST_DATABASE_URL ? false : 'PostgreSQL only: PGlite belongs to one process' },
  async (t) => {
    const fresh = await freshDatabase()
    const app = await buildTestApp(t, { AUDIT_RETENTION_DAYS: '7' }, fresh)
    await credentialWithOldEvents(app, 30, 10)
    // Another replica in the middle of a batch: it holds the lock until its transaction ends.
    const other = new pg.Client({ connectionString: (fresh.database as { url: string }).url })
    await other.connect()
    t.teardown(() => other.end())
    await other.query('BEGIN')
    t.same((await other.query('SELECT pg_try_advisory_xact_lock($1) AS held', [AUDIT_RETENTION_LOCK])).rows, [{ held: true }])

    const retention = app.app.auditRetention as AuditRetention
    t.same(await retention.prune(), { deleted: 0, skipped: true }, 'skipped while the other holds the lock')
    t.equal(await countEvents(app), 31, 'nothing deleted twice over')

    await other.query('COMMIT')
    t.same(await retention.prune(), { deleted: 30, skipped: false }, 'pruned once the lock is free')
  },
)
