import { createHash, randomBytes } from 'node:crypto'
import { readdir, readFile, rename, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import type { PGlite } from '@electric-sql/pglite'
import pg from 'pg'
import type { Test } from 'tap'
import type { FastifyServerOptions } from 'fastify'
import { buildServer, type BuiltServer } from '../../src/app.js'
import { loadConfig, type Config } from '../../src/config.js'
import { migratedPgliteImage, openDatabase, type DatabaseTarget } from '../../src/db/database.js'
import { MIGRATIONS_DIR, PROJECT_ROOT } from '../../src/paths.js'
import { teardownWithFile } from './folder.js'

export interface TestApp extends BuiltServer {
  config: Config
  /** The bootstrap API credential every test calls with (all permissions). */
  admin: { identifier: string; secret: string }
  /** Runs SQL against the test database, outside the app (to read rows as stored). */
  sql<R = Record<string, unknown>>(text: string, params?: unknown[]): Promise<R[]>
}

export interface TestAppOptions {
  /** Fastify's logger (e.g. pino options with a capturing stream); silent by default. */
  logger?: FastifyServerOptions['logger']
  /** Where the app connects, given the fresh database (e.g. through a TCP proxy). */
  connect?: (database: DatabaseTarget) => DatabaseTarget
}

/**
 * The real app on its own, fresh database: PGlite in memory, or, when TEST_DATABASE_URL is
 * set, a new PostgreSQL database created for this app and dropped at teardown, so test files
 * running in parallel never see each other's rows.
 */
export async function buildTestApp(
  t: Test,
  env: Record<string, string> = {},
  fresh?: Awaited<ReturnType<typeof freshDatabase>>,
  options: TestAppOptions = {},
): Promise<TestApp> {
  const admin = { identifier: 'test-admin', secret: randomBytes(32).toString('base64') }
  const config = loadConfig({
    CLIENT_IDENTIFIER_PREFIX: 'TEST',
    LOG_LEVEL: 'silent',
    API_BOOTSTRAP_IDENTIFIER: admin.identifier,
    API_BOOTSTRAP_SECRET: admin.secret,
    ...env,
  })
  const { database, drop } = fresh ?? (await freshDatabase({ lend: true }))
  const built = await buildServer(config, {
    database: options.connect ? options.connect(database) : database,
    logger: options.logger ?? false,
  })
  teardownWithFile(t, async () => {
    await built.app.close()
    await drop()
  })
  const sql = async <R>(text: string, params: unknown[] = []) =>
    built.app.database.exclusive(async () => (await built.app.database.prisma()).$queryRawUnsafe<R[]>(text, ...params))
  return { ...built, config, admin, sql }
}

/** The PostgreSQL server of tests that run on it even when TEST_DATABASE_URL is unset (cross-database ones). */
const POSTGRES_SERVER_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test'

/**
 * A new, empty database: on PostgreSQL (TEST_DATABASE_URL) a database of its own; else PGlite,
 * in memory, or in `dataDir` when the test opens it more than once. `on` chooses regardless.
 * `lend`: an in-memory PGlite may be one this test file used before and gave back with `drop`,
 * emptied to the image's state (for a database opened once, and dropped only when closed).
 */
export async function freshDatabase(
  options: { dataDir?: string; on?: 'pglite' | 'postgresql'; lend?: boolean } = {},
): Promise<{ database: DatabaseTarget; drop: () => Promise<void> }> {
  const on = options.on ?? (process.env.TEST_DATABASE_URL ? 'postgresql' : 'pglite')
  const serverUrl = POSTGRES_SERVER_URL
  if (on === 'pglite' && options.lend && !options.dataDir) return lendPglite()
  if (on === 'pglite') {
    const image = await pgliteImage()
    const database = options.dataDir ? { dataDir: options.dataDir, image } : { memory: true as const, image }
    return { database, drop: async () => {} }
  }
  const name = `oauth_test_${process.pid}_${randomBytes(4).toString('hex')}`
  await withServer(serverUrl, (client) => client.query(`CREATE DATABASE "${name}"`))
  const url = new URL(serverUrl)
  url.pathname = `/${name}`
  return {
    database: { url: url.toString() },
    drop: () => withServer(serverUrl, (client) => client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`)),
  }
}

/**
 * A fresh database for the whole of test `t`, which hands it to the CLI and to apps in turn: on
 * PGlite one in memory, lent, instead of a folder that each CLI call would start PGlite on again
 * (about 1 s of CPU each). It is given back when `t` ends, after the apps built on it close.
 */
export async function freshDatabaseFor(t: Test, options: { on?: 'pglite' | 'postgresql' } = {}): Promise<Awaited<ReturnType<typeof freshDatabase>>> {
  const { database, drop } = await freshDatabase({ ...options, lend: true })
  t.teardown(drop)
  return { database, drop: async () => {} }
}

async function withServer(url: string, work: (client: pg.Client) => Promise<unknown>): Promise<void> {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  try {
    await work(client)
  } finally {
    await client.end()
  }
}

/**
 * The settings that point a server process at a fresh database of its own: DATABASE_URL, or a
 * DATA_DIR already seeded from the migrated image (the process then skips initdb).
 */
export async function freshDatabaseEnv(t: Test): Promise<Record<string, string>> {
  const dataDir = t.testdir()
  const { database, drop } = await freshDatabase({ dataDir })
  t.teardown(drop)
  if ('url' in database) return { DATABASE_URL: database.url }
  await (await openDatabase(database)).close()
  return { DATA_DIR: dataDir }
}

/**
 * The migrated empty PGlite database every test database starts from, made once per set of
 * migrations and kept in the system's temporary folder: initdb and the migrations cost about
 * 5 s of CPU per database, loading the image about 0.5 s.
 */
let image: Promise<Blob> | undefined
export function pgliteImage(): Promise<Blob> {
  return (image ??= (async () => {
    // Keyed by PGlite's version, the migrations and the code that makes it: a change to any makes a new image.
    const digest = createHash('sha256').update(await readFile(path.join(PROJECT_ROOT, 'node_modules/@electric-sql/pglite/package.json')))
    digest.update(migratedPgliteImage.toString())
    for (const entry of (await readdir(MIGRATIONS_DIR, { recursive: true })).sort()) {
      if (entry.endsWith('.sql')) digest.update(entry).update(await readFile(path.join(MIGRATIONS_DIR, entry)))
    }
    const cached = path.join(tmpdir(), `oauth-credential-service-pglite-${digest.digest('hex').slice(0, 16)}.tar`)
    try {
      return new Blob([await readFile(cached)])
    } catch {
      const made = await migratedPgliteImage()
      // Written aside, then renamed: parallel test files never read half an image.
      const partial = `${cached}.${process.pid}`
      await writeFile(partial, Buffer.from(await made.arrayBuffer()))
      await rename(partial, cached)
      return made
    }
  })())
}

/**
 * In-memory PGlite databases given back by the tests of this file, emptied: the next app takes
 * one of these instead of loading the image again (about 1 s of CPU each). A database comes
 * back only when it is exactly as the image left it (rows, sequences, schema); else it is closed.
 */
const lendable: PGlite[] = []
const IDLE_MS = 200
let pristine: Promise<string> | undefined

async function lendPglite(): Promise<{ database: DatabaseTarget; drop: () => Promise<void> }> {
  let pglite = lendable.pop()
  if (!pglite) {
    const { PGlite } = await import('@electric-sql/pglite')
    pglite = new PGlite({ loadDataDir: await pgliteImage() })
    pristine ??= stateOf(pglite)
    await pristine
  }
  const lent = pglite
  return { database: { pglite: lent }, drop: () => giveBack(lent) }
}

/** Empties a lent database back to the image's state, or closes it when that cannot be shown. */
async function giveBack(pglite: PGlite): Promise<void> {
  try {
    const image = JSON.parse(await (pristine as Promise<string>)) as { rows: Record<string, unknown[] | null> }
    const tables = Object.keys(image.rows)
    await pglite.transaction(async (tx) => {
      await tx.exec(`TRUNCATE ${tables.join(', ')} RESTART IDENTITY CASCADE`)
      for (const [table, rows] of Object.entries(image.rows)) {
        if (rows) await tx.query(`INSERT INTO ${table} SELECT * FROM json_populate_recordset(NULL::${table}, $1)`, [JSON.stringify(rows)])
      }
    })
    // Session state (settings, prepared statements, temporary tables); fails inside an open transaction.
    await pglite.exec('DISCARD ALL')
    if ((await stateOf(pglite)) === (await pristine)) {
      lendable.push(pglite)
      // An open PGlite keeps the process alive (a timer of its own): one no test takes soon is
      // closed, so the file's process ends when its tests do.
      setTimeout(() => lendable.includes(pglite) && lendable.splice(lendable.indexOf(pglite), 1) && void pglite.close(), IDLE_MS).unref()
      return
    }
  } catch {
    // Not shown to be as new: closed below, and the next app starts from the image.
  }
  await pglite.close().catch(() => {})
}

/** Every user table's rows, every sequence's position and the schema, as one text. */
async function stateOf(pglite: PGlite): Promise<string> {
  const { rows: tables } = await pglite.query<{ name: string }>(
    "SELECT format('%I.%I', schemaname, tablename) AS name FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema') ORDER BY 1",
  )
  const rows = tables.map(({ name }) => `${pgText(name)}, (SELECT json_agg(r ORDER BY r::text) FROM ${name} r)`).join(', ')
  const { rows: [state] } = await pglite.query<{ state: string }>(`SELECT json_build_object(
    'rows', json_build_object(${rows}),
    'sequences', (SELECT json_agg(s ORDER BY schemaname, sequencename) FROM pg_sequences s),
    'schema', (SELECT json_agg(d ORDER BY d) FROM (
      SELECT format('%s %s %s', c.oid::regclass, c.relkind, pg_get_indexdef(c.oid)) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
      UNION ALL SELECT format('%s.%s %s %s %s', a.attrelid::regclass, a.attname, a.atttypid::regtype, a.attnotnull, pg_get_expr(d.adbin, d.adrelid))
        FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
        LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
        WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast') AND a.attnum > 0 AND NOT a.attisdropped
      UNION ALL SELECT format('%s %s', conrelid::regclass, pg_get_constraintdef(oid)) FROM pg_constraint WHERE connamespace NOT IN ('pg_catalog'::regnamespace, 'information_schema'::regnamespace)
      UNION ALL SELECT format('%s %s %s', tgrelid::regclass, tgname, tgenabled) FROM pg_trigger WHERE NOT tgisinternal
      UNION ALL SELECT format('%s %s', p.oid::regprocedure, md5(p.prosrc)) FROM pg_proc p WHERE pronamespace NOT IN ('pg_catalog'::regnamespace, 'information_schema'::regnamespace)
      UNION ALL SELECT format('%s %s', nspname, nspowner) FROM pg_namespace
      UNION ALL SELECT format('%s %s', setdatabase, setconfig) FROM pg_db_role_setting
    ) AS definitions (d))
  )::text AS state`)
  return (state as { state: string }).state
}

const pgText = (text: string) => `'${text.replaceAll("'", "''")}'`
