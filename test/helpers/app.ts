import { createHash, randomBytes } from 'node:crypto'
import { readdir, readFile, rename, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import pg from 'pg'
import type { Test } from 'tap'
import type { FastifyServerOptions } from 'fastify'
import { buildServer, type BuiltServer } from '../../src/app.js'
import { loadConfig, type Config } from '../../src/config.js'
import { migratedPgliteImage, openDatabase, type DatabaseTarget } from '../../src/db/database.js'
import { MIGRATIONS_DIR, PROJECT_ROOT } from '../../src/paths.js'

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
  const { database, drop } = fresh ?? (await freshDatabase())
  const built = await buildServer(config, {
    database: options.connect ? options.connect(database) : database,
    logger: options.logger ?? false,
  })
  t.teardown(async () => {
    await built.app.close()
    await drop()
  })
  const sql = async <R>(text: string, params: unknown[] = []) =>
    built.app.database.exclusive(() => built.app.database.prisma.$queryRawUnsafe<R[]>(text, ...params))
  return { ...built, config, admin, sql }
}

/** The PostgreSQL server of tests that run on it even when TEST_DATABASE_URL is unset (cross-database ones). */
const POSTGRES_SERVER_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test'

/**
 * A new, empty database: on PostgreSQL (TEST_DATABASE_URL) a database of its own; else PGlite,
 * in memory, or in `dataDir` when the test opens it more than once. `on` chooses regardless.
 */
export async function freshDatabase(
  options: { dataDir?: string; on?: 'pglite' | 'postgresql' } = {},
): Promise<{ database: DatabaseTarget; drop: () => Promise<void> }> {
  const on = options.on ?? (process.env.TEST_DATABASE_URL ? 'postgresql' : 'pglite')
  const serverUrl = POSTGRES_SERVER_URL
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
    // Keyed by PGlite's version and the migrations: a change to either makes a new image.
    const digest = createHash('sha256').update(await readFile(path.join(PROJECT_ROOT, 'node_modules/@electric-sql/pglite/package.json')))
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
