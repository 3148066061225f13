import pg from 'pg'
import { EVENTS, listStatement, PRUNE_EVENTS, READ_BY_CLIENT_IDENTIFIER, READ_BY_ID } from '../src/credentials/storage.js'
import { openDatabase } from '../src/db/database.js'
import { valuesOf, type Statement } from '../src/db/sql.js'
import { bulkSeed, seededClientIdentifier } from './seed.js'
import { scratchDatabase } from './target.js'

/**
 * `npm run bench:plans`: what each statement that must stay cheap costs the database, at
 * BENCH_CREDENTIALS credentials (default 1000; bulk-seeded as `npm run bench` does). Pages
 * touched (shared buffers hit + read) do not depend on the machine's load, so they show
 * whether a statement's cost grows with the data where req/s on a busy machine cannot.
 */
const CREDENTIALS = Number(process.env.BENCH_CREDENTIALS ?? 1_000)
const BUSY_EVENTS = Number(process.env.BENCH_BUSY_EVENTS ?? 100_000)

const scratch = await scratchDatabase('plans')
const client = new pg.Client({ connectionString: scratch.url })
try {
  const database = await openDatabase({ url: scratch.url })
  await database.migrate().finally(() => database.close())
  await client.connect()
  const run = (text: string, params?: unknown[]) => client.query(text, params)
  const started = performance.now()
  const busy = await bulkSeed(run, { credentials: CREDENTIALS, busyEvents: BUSY_EVENTS })
  const seconds = (performance.now() - started) / 1000
  const { rows: [range] } = await client.query('SELECT min(id)::int AS first, max(id)::int AS last FROM audit_event WHERE credential_id = $1', [busy])
  const deep = Math.floor(CREDENTIALS * 0.75)
  const middleEvent = Math.floor((range.first + range.last) / 2)
  const sort = { field: 'credentialId', order: 'asc' } as const

  const cases: [string, Statement<unknown, never>, object][] = [
    ['a credential by id', READ_BY_ID, { credentialId: deep }],
    ['a credential by client identifier', READ_BY_CLIENT_IDENTIFIER, { clientIdentifier: seededClientIdentifier(deep) }],
    ['list page of 51 after a deep cursor', listStatement({ afterId: 1, sort, limit: 1 }), { afterId: deep, limit: 51 }],
    ['grantType=single_sign_on page after a deep cursor', listStatement({ grantType: 'x', afterId: 1, sort, limit: 1 }),
      { grantType: 'single_sign_on', afterId: deep, limit: 51 }],
    ['clientIdentifier= filter', listStatement({ clientIdentifier: 'x', sort, limit: 1 }), { clientIdentifier: seededClientIdentifier(deep), limit: 51 }],
    ['busy credential: events page in the middle', EVENTS.after, { credentialId: busy, beforeId: middleEvent, limit: 51 }],
    ['legacy list sorted by name, 50', listStatement({ sort: { field: 'name', order: 'asc' }, limit: 1 }), { limit: 50 }],
  ]
  console.log(`# ${CREDENTIALS} credentials, seeded in ${seconds.toFixed(1)} s; each statement's custom plan, run twice, the second measured`)
  console.log('| statement | pages touched | rows | execution ms |')
  console.log('|---|---:|---:|---:|')
  for (const [name, statement, params] of cases) {
    const literals = valuesOf(statement, params as never)
      .map((value) => (typeof value === 'number' ? String(value) : `'${String(value)}'`))
      .join(', ')
    await client.query(`PREPARE measured AS ${statement.text}`)
    await client.query(`EXPLAIN (ANALYZE) EXECUTE measured(${literals})`)
    const { rows } = await client.query(`EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) EXECUTE measured(${literals})`)
    await client.query('DEALLOCATE measured')
    const [{ Plan: plan, 'Execution Time': ms }] = rows[0]['QUERY PLAN']
    console.log(`| ${name} | ${plan['Shared Hit Blocks'] + plan['Shared Read Blocks']} | ${plan['Actual Rows']} | ${ms.toFixed(2)} |`)
  }
  // Retention: one batch of 1,000 of the events older than a year, in a transaction rolled back.
  await client.query('BEGIN')
  const before = new Date(Date.now() - 365 * 86_400_000)
  const { rows } = await client.query(`EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) ${PRUNE_EVENTS.text}`, valuesOf(PRUNE_EVENTS, { before, batch: 1_000 }))
  await client.query('ROLLBACK')
  const [{ Plan: plan, 'Execution Time': ms }] = rows[0]['QUERY PLAN']
  console.log(`| audit retention: a batch of 1,000 | ${plan['Shared Hit Blocks'] + plan['Shared Read Blocks']} | ${plan['Actual Rows']} | ${ms.toFixed(2)} |`)
  const { rows: sizes } = await client.query(`
    SELECT relname AS table, n_live_tup AS rows, pg_total_relation_size(relid) AS bytes
    FROM pg_stat_user_tables WHERE relname IN ('credential', 'credential_scope', 'credential_redirect_uri', 'audit_event')
    ORDER BY relname`)
  for (const { table, rows: count, bytes } of sizes) {
    console.log(`${table}: ${count} rows, ${(bytes / 2 ** 20).toFixed(0)} MiB with indexes, ${(bytes / Math.max(1, count)).toFixed(0)} bytes a row`)
  }
} finally {
  await client.end().catch(() => {})
  await scratch.drop()
}
