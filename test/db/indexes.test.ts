import pg from 'pg'
import t from 'tap'
import { bulkSeed } from '../../bench/seed.js'
import { EVENTS, listStatement, PRUNE_EVENTS, READ_BY_CLIENT_IDENTIFIER, READ_BY_ID, type SortField } from '../../src/credentials/storage.js'
import { openDatabase } from '../../src/db/database.js'
import { valuesOf, type Statement } from '../../src/db/sql.js'
import { freshDatabase } from '../helpers/app.js'

/*
 * The statements that must stay cheap at a million credentials use their indexes. The tables
 * hold enough rows (statistics fresh) that a sequential scan would be the planner's honest
 * choice if an index were missing. Each statement is planned as PostgreSQL runs a prepared
 * statement: both the custom plan (first executions) and the generic plan it may keep after.
 */
const CREDENTIALS = 20_000
const BUSY_EVENTS = 5_000

const fresh = await freshDatabase()
t.teardown(fresh.drop)
const database = await openDatabase(fresh.database)
t.teardown(() => database.close())
await database.migrate()

// One session, so that PREPARE and SET hold for the EXPLAIN after them: PGlite is one anyway.
let run: (text: string, params?: unknown[]) => Promise<{ rows: Record<string, unknown>[] }>
if ('url' in fresh.database) {
  const client = new pg.Client({ connectionString: fresh.database.url })
  await client.connect()
  t.teardown(() => client.end())
  run = (text, params) => client.query(text, params)
} else {
  run = async (text, params = []) => ({ rows: await database.query<Record<string, unknown>>(text, params) })
}
const busy = await bulkSeed(run, { credentials: CREDENTIALS, busyEvents: BUSY_EVENTS })
const [range] = (await run('SELECT min(id)::int AS first, max(id)::int AS last FROM audit_event WHERE credential_id = $1', [busy])).rows
const deepEvent = Math.floor(((range?.first as number) + (range?.last as number)) / 2)

const literal = (value: unknown) =>
  value === null ? 'NULL' : value instanceof Date ? `'${value.toISOString()}'` : typeof value === 'number' ? String(value) : `'${String(value)}'`

let prepared = 0
/** The plan of `statement` with these parameters, as JSON text, in plan_cache_mode `mode`. */
async function plan<P extends object>(statement: Statement<unknown, P>, params: P, mode: 'force_custom_plan' | 'force_generic_plan') {
  const name = `indexed_${++prepared}`
  await run(`PREPARE ${name} AS ${statement.text}`)
  await run(`SET plan_cache_mode = ${mode}`)
  const { rows } = await run(`EXPLAIN (FORMAT JSON) EXECUTE ${name}(${valuesOf(statement, params).map(literal).join(', ')})`)
  await run(`DEALLOCATE ${name}`)
  const [root] = rows[0]?.['QUERY PLAN'] as [{ Plan: PlanNode }]
  return { text: JSON.stringify(root), root: root.Plan }
}

interface PlanNode {
  'Node Type': string
  'Parent Relationship'?: string
  Plans?: PlanNode[]
}

/** The node a LIMIT reads from (past a one-time filter): the index scan when the index gives the order. */
function underLimit(node: PlanNode): string | undefined {
  const input = (parent: PlanNode | undefined) => parent?.Plans?.find((child) => child['Parent Relationship'] === 'Outer')
  if (node['Node Type'] === 'Limit') {
    let source = input(node)
    while (source?.['Node Type'] === 'Result') source = input(source)
    return source?.['Node Type']
  }
  return node.Plans?.map(underLimit).find((found) => found !== undefined)
}

interface Case {
  name: string
  statement: Statement<unknown, never>
  params: object
  index: string | RegExp
  /** What the index scan must be bounded by, not merely filtered by. */
  condition?: RegExp
  /** A page of many matches: the index must give their order, not a sort of them all (a few may be sorted). */
  paged?: boolean
  /**
   * False when the parameter decides the plan: a generic plan assumes an average grant type,
   * for which the primary key in id order is as cheap; plan_cache_mode auto keeps custom plans
   * when they cost less.
   */
  generic?: boolean
}

/** The legacy list's first page in another order than the id's: the index gives the order. */
const sortedList = (field: SortField, order: 'asc' | 'desc', index: string): Case => ({
  name: `the legacy list sorted by ${field}, ${order}`,
  statement: listStatement({ sort: { field, order }, limit: 1 }),
  params: { limit: 50 },
  index,
  paged: true,
})

const cases: Case[] = [
  { name: 'a credential by id', statement: READ_BY_ID, params: { credentialId: 12_345 }, index: 'credential_pkey' },
  {
    name: 'a credential by client identifier',
    statement: READ_BY_CLIENT_IDENTIFIER,
    params: { clientIdentifier: 'BENCH.12345' },
    index: 'credential_client_identifier_key',
  },
  {
    name: 'a list page deep into the cursor',
    statement: listStatement({ afterId: 1, sort: { field: 'credentialId', order: 'asc' }, limit: 1 }),
    params: { afterId: 15_000, limit: 51 },
    index: 'credential_pkey',
    condition: /id > /,
    paged: true,
  },
  {
    name: 'a list filtered by grant type, deep into the cursor',
    statement: listStatement({ grantType: 'x', afterId: 1, sort: { field: 'credentialId', order: 'asc' }, limit: 1 }),
    params: { grantType: 'single_sign_on', afterId: 15_000, limit: 51 },
    index: 'credential_grant_type_id_idx',
    condition: /grant_type = .* AND .*id > /,
    paged: true,
    generic: false,
  },
  {
    name: 'a list filtered by client identifier',
    statement: listStatement({ clientIdentifier: 'x', sort: { field: 'credentialId', order: 'asc' }, limit: 1 }),
    params: { clientIdentifier: 'BENCH.12345', limit: 51 },
    index: 'credential_client_identifier_key',
  },
  sortedList('name', 'desc', 'credential_name_id_idx'),
  sortedList('createdAt', 'asc', 'credential_created_at_id_idx'),
  sortedList('grantType', 'asc', 'credential_grant_type_id_idx'),
  {
    name: "a credential's events",
    statement: EVENTS.first,
    params: { credentialId: 12_345, limit: 51 },
    index: 'audit_event_credential_id_id_idx',
  },
  {
    name: "a page of a credential's events after a cursor",
    statement: EVENTS.after,
    params: { credentialId: 12_345, beforeId: deepEvent, limit: 51 },
    index: 'audit_event_credential_id_id_idx',
    condition: /credential_id = .* AND .*id < /,
  },
  {
    // A credential with a large share of all events may be read through the primary key
    // backwards, skipping the others' events: also bounded by the cursor, and in order.
    name: "a page deep into a busy credential's events",
    statement: EVENTS.after,
    params: { credentialId: busy, beforeId: deepEvent, limit: 51 },
    index: /audit_event_credential_id_id_idx|audit_event_pkey/,
    condition: /id < /,
    paged: true,
  },
  {
    name: 'a batch of audit retention',
    statement: PRUNE_EVENTS,
    params: { before: new Date(Date.now() - 365 * 86_400_000), batch: 1_000 },
    index: 'audit_event_created_at_idx',
    condition: /created_at < /,
    paged: true,
  },
]

for (const { name, statement, params, index, condition, paged = false, generic = true } of cases) {
  t.test(name, async (t) => {
    for (const mode of generic ? (['force_custom_plan', 'force_generic_plan'] as const) : (['force_custom_plan'] as const)) {
      const { text, root } = await plan(statement, params as never, mode)
      const used = [...text.matchAll(/"Index Name":"([^"]+)"/g)].map((match) => match[1])
      t.ok(used.some((name) => (typeof index === 'string' ? name === index : index.test(name ?? ''))), `${mode}: uses ${index} (${used.join(', ')})`)
      t.notMatch(text, /Seq Scan/, `${mode}: reads no table whole`)
      if (paged) t.match(underLimit(root), /Index/, `${mode}: the index gives the order, nothing sorts every match`)
      if (condition) {
        const conditions = [...text.matchAll(/"Index Cond":"((?:[^"\\]|\\.)*)"/g)].map((match) => match[1]).join(' | ')
        t.match(conditions, condition, `${mode}: the index bounds the scan (${conditions})`)
      }
    }
  })
}
