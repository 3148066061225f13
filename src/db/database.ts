import { existsSync } from 'node:fs'
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises'
import path from 'node:path'
import type { PGlite } from '@electric-sql/pglite'
import type { PrismaClient } from '../generated/prisma/client.js'
import { metrics, type PoolStats } from '../observability/metrics.js'
import { observeStatement } from '../observability/statements.js'
import { DatabaseAvailability } from './availability.js'
import { applyMigrations, type MigrationSession, type MigrationTx } from './migrate.js'
import type { Watch } from './notifications.js'
import { sql, valuesOf, type Statement } from './sql.js'

export type { PrismaClient, Watch }

/** Where the data lives: a PostgreSQL URL, a PGlite data folder, or PGlite in memory (tests). */
export type DatabaseTarget = { url: string } | PgliteTarget

/** The database the settings name: PostgreSQL at DATABASE_URL, else the embedded one in DATA_DIR. */
export function configuredDatabase(config: { DATABASE_URL?: string | undefined; DATA_DIR: string }): DatabaseTarget {
  return config.DATABASE_URL ? { url: config.DATABASE_URL } : { dataDir: config.DATA_DIR }
}

/**
 * An embedded database in a folder or in memory. `image`, a data-folder tarball (see
 * migratedPgliteImage), is what a new one starts from instead of an empty cluster. Or one
 * already open, `pglite`, that its opener keeps: closing the Database leaves it open (the
 * tests hand one to app after app, emptied between them, instead of starting one for each).
 */
export type PgliteTarget = (({ dataDir: string } | { memory: true }) & { image?: Blob }) | { pglite: PGlite }

export interface DatabaseOptions {
  /**
   * The longest any wait on the database may last, in ms (DATABASE_TIMEOUT_MS): on PostgreSQL,
   * half of it for a connection (connect, or a turn in the pool) and half for a statement's
   * answer, so a statement that starts is answered or refused within it.
   */
  timeoutMs: number
}

export const DEFAULT_DATABASE_OPTIONS: DatabaseOptions = { timeoutMs: 5_000 }

/** What runs statements: the database itself, or one of its transactions. */
export type StatementRunner = Pick<Database, 'run'>

export interface Database {
  /**
   * Loaded and made on first use: nothing in src queries through Prisma, whose client and query
   * compiler cost start-up CPU (tests read rows as stored through it).
   */
  prisma(): Promise<PrismaClient>
  readonly kind: 'postgresql' | 'pglite'
  /** Whether the database answers; the edges report their 503s to it (src/db/availability.ts). */
  readonly availability: DatabaseAvailability
  /**
   * Runs database work that must not interleave with other work. PGlite is one connection:
   * a query issued while another request's interactive transaction is open queues behind it
   * and both stall, so there every unit of work runs alone. PostgreSQL runs them at once.
   */
  exclusive<T>(work: () => Promise<T>): Promise<T>
  /**
   * One SQL statement with `$1…` parameters, sent straight to the driver Prisma's adapter
   * uses: Prisma's runtime cost more CPU per statement than the database did
   * (docs/performance.md). Call it inside `exclusive`.
   */
  query<R>(text: string, params: unknown[]): Promise<R[]>
  /** A statement with named parameters (src/db/sql.ts), run alone on PGlite (`exclusive`). */
  run<R, P extends object>(statement: Statement<R, P>, params: P): Promise<R[]>
  /** One trivial statement: resolves when the database answers (the readiness probe, the outage tracker). */
  ping(): Promise<void>
  /**
   * Runs `work` in one transaction on one connection (alone, on PGlite): committed when it
   * returns, rolled back when it throws.
   */
  transaction<T>(work: (tx: Transaction) => Promise<T>): Promise<T>
  /**
   * Calls `onChange(payload)` for each notification on `channel` (PostgreSQL NOTIFY, sent by
   * other processes too), and `onChange(null)` whenever some may have been missed. Closed with
   * the database. PGlite belongs to this process alone: nobody else can change it, so its
   * watch is always live and never called.
   */
  watch(channel: string, onChange: (payload: string | null) => void): Watch
  /** Applies pending migrations; returns the names applied. */
  migrate(): Promise<string[]>
  close(): Promise<void>
}

/** What each kind of database provides; openDatabase adds the rest. */
type Opened = Omit<Database, 'run' | 'ping' | 'transaction' | 'migrate' | 'availability'> & {
  /** One transaction on one connection, for migrations and `transaction`. */
  session: MigrationSession
  poolStats(): PoolStats
}

/** The statement that asks whether the database answers. */
const PING = sql<{ '?column?': number }>('database.ping', 'SELECT 1')

/** Statements inside one transaction (Database.transaction). */
export interface Transaction extends MigrationTx {
  run<R, P extends object>(statement: Statement<R, P>, params: P): Promise<R[]>
}

export async function openDatabase(
  target: DatabaseTarget,
  options: DatabaseOptions = DEFAULT_DATABASE_OPTIONS,
): Promise<Database> {
  const { session, poolStats, ...database } =
    'url' in target ? await openPostgres(target.url, options) : await openPglite(target)
  const unwatchPool = metrics.watchPool(poolStats)
  const { exclusive } = database
  const run = <R, P extends object>(statement: Statement<R, P>, params: P) =>
    exclusive(() => observeStatement(statement.name, database.kind, () => database.query<R>(statement.text, valuesOf(statement, params))))
  const ping = () => run(PING, {}).then(() => undefined)
  const availability = new DatabaseAvailability(ping)
  const unwatchAvailability = metrics.watchAvailability(() => availability.available)
  // Closing twice (a readiness test closes it, then the app's onClose hook) is harmless.
  let closed: Promise<void> | undefined
  return {
    prisma: database.prisma,
    kind: database.kind,
    query: database.query,
    watch: database.watch,
    exclusive,
    availability,
    run,
    ping,
    transaction: (work) =>
      exclusive(() =>
        session.transaction((tx) =>
          work({
            ...tx,
            run: (statement, params) =>
              observeStatement(statement.name, database.kind, () => tx.query(statement.text, valuesOf(statement, params))),
          }),
        ),
      ),
    migrate: () => applyMigrations(session),
    close: () => {
      availability.stop()
      unwatchAvailability()
      return (closed ??= database.close().finally(unwatchPool))
    },
  }
}

// Each kind imports its own drivers when opened: a process uses one kind, and loading the
// other's modules (PGlite's, or pg's) costs start-up CPU for nothing (a CLI call, `npm start`).

async function openPostgres(url: string, { timeoutMs }: DatabaseOptions): Promise<Opened> {
  const [{ default: pg }, { listen }] = await Promise.all([import('pg'), import('./notifications.js')])
  const half = Math.ceil(timeoutMs / 2)
  const pool = new pg.Pool({
    connectionString: url,
    max: 10,
    // A database that accepts connections but never answers must not hold requests for ever.
    connectionTimeoutMillis: half,
    // Client side: a timed-out connection is dropped from the pool. Server side: a statement
    // stuck on a lock is cancelled, and its locks released.
    query_timeout: half,
    statement_timeout: half,
    keepAlive: true,
  })
  // A pool error (e.g. the server restarting) must not crash the process: the next query retries.
  pool.on('error', () => {})
  let prisma: Promise<PrismaClient> | undefined
  const watches = new Set<Watch>()
  const session: MigrationSession = {
    async transaction(work) {
      const client = await pool.connect()
      let broken: Error | undefined
      try {
        await client.query('BEGIN')
        const result = await work({
          exec: async (sql, options) => {
            // pg takes a query's own query_timeout over the pool's (its types do not list it).
            const query: { text: string; query_timeout?: number } = { text: sql, query_timeout: options?.timeoutMs }
            await client.query(query)
          },
          query: async (sql, params) => (await client.query(sql, params)).rows,
        })
        await client.query('COMMIT')
        return result
      } catch (error) {
        // A connection that cannot even roll back (timed out, cut) leaves the pool.
        broken = await client.query('ROLLBACK').then(
          () => undefined,
          (rollbackError: Error) => rollbackError,
        )
        throw error
      } finally {
        client.release(broken)
      }
    },
  }
  return {
    prisma: () =>
      (prisma ??= Promise.all([import('@prisma/adapter-pg'), import('../generated/prisma/client.js')]).then(
        ([{ PrismaPg }, { PrismaClient }]) => new PrismaClient({ adapter: new PrismaPg(pool) }),
      )),
    kind: 'postgresql',
    session,
    exclusive: (work) => work(),
    query: async <R>(text: string, params: unknown[]) =>
      (await pool.query({ name: statementName(text), text, values: params })).rows as R[],
    watch(channel, onChange) {
      const watch = listen(url, channel, onChange)
      watches.add(watch)
      return watch
    },
    poolStats: () => ({ size: pool.totalCount, idle: pool.idleCount, waiting: pool.waitingCount }),
    async close() {
      await Promise.all([...watches].map((watch) => watch.close()))
      await (await prisma)?.$disconnect()
      await pool.end().catch(() => {})
    },
  }
}

/**
 * Statements are named (prepared), so each pooled connection parses and plans them once.
 * Database.query is called with texts built from constants only, so this map stays small.
 */
const statementNames = new Map<string, string>()
function statementName(text: string): string {
  let name = statementNames.get(text)
  if (name === undefined) statementNames.set(text, (name = `hot_${statementNames.size + 1}`))
  return name
}

async function openPglite(target: PgliteTarget): Promise<Opened> {
  const { pglite, stop } = 'pglite' in target ? { pglite: target.pglite, stop: async () => {} } : await startPglite(target)
  let prisma: Promise<PrismaClient> | undefined
  // Once closed, this Database answers as a closed PGlite does, even when the PGlite is lent and stays open.
  let closed = false
  const live = () => {
    if (closed) throw new Error('PGlite is closed')
    return pglite
  }
  const session: MigrationSession = { transaction: (work) => pgliteSession(live()).transaction(work) }
  let queue: Promise<unknown> = Promise.resolve()
  /** Units of work queued or running on the one connection. */
  let pending = 0
  function exclusive<T>(work: () => Promise<T>): Promise<T> {
    pending++
    const run = queue.then(work, work).finally(() => pending--)
    queue = run.catch(() => {})
    return run
  }
  return {
    prisma: () =>
      (prisma ??= Promise.all([import('pglite-prisma-adapter'), import('../generated/prisma/client.js')]).then(
        ([{ PrismaPGlite }, { PrismaClient }]) => new PrismaClient({ adapter: new PrismaPGlite(pglite) }),
      )),
    kind: 'pglite',
    session,
    exclusive,
    poolStats: () => ({ size: 1, idle: pending === 0 ? 1 : 0, waiting: Math.max(0, pending - 1) }),
    query: async <R>(text: string, params: unknown[]) => (await live().query<R>(text, params)).rows,
    watch: () => ({ live: () => true, close: async () => {} }),
    async close() {
      closed = true
      await (await prisma)?.$disconnect()
      await stop()
    },
  }
}

/** A new PGlite in its folder (locked) or in memory; `stop` closes it and frees the folder. */
async function startPglite(target: Exclude<PgliteTarget, { pglite: PGlite }>) {
  const unlock = 'dataDir' in target ? await lockDataDir(target.dataDir) : async () => {}
  const folder = 'dataDir' in target ? path.join(target.dataDir, 'pglite') : undefined
  // The image seeds a new database only: PGlite refuses to load one over an existing cluster.
  const seeded = target.image && !(folder && existsSync(path.join(folder, 'PG_VERSION')))
  const { PGlite } = await import('@electric-sql/pglite')
  const pglite = new PGlite({ dataDir: folder, loadDataDir: seeded ? target.image : undefined })
  try {
    await pglite.waitReady
  } catch (error) {
    await unlock()
    throw error
  }
  return {
    pglite,
    stop: async () => {
      await pglite.close()
      await unlock()
    },
  }
}

/** PGlite's transactions, for migrations and Database.transaction. */
export function pgliteSession(pglite: PGlite): MigrationSession {
  return {
    transaction: (work) =>
      pglite.transaction((tx) =>
        work({
          exec: async (sql) => void (await tx.exec(sql)),
          query: async <R>(sql: string, params: unknown[]) => (await tx.query<R>(sql, params)).rows,
        }),
      ),
  }
}

/**
 * An empty embedded database with every migration applied, as a data-folder tarball. A new
 * PGlite runs initdb, seconds of CPU; one loaded from this image starts in a tenth of that
 * (the tests start each of their databases from one). The image leaves out the template
 * databases: the service never creates a database, and they were 14 MB of its 40, each loaded
 * again by every database started from it.
 */
export async function migratedPgliteImage(): Promise<Blob> {
  const { PGlite } = await import('@electric-sql/pglite')
  const pglite = new PGlite()
  try {
    await applyMigrations(pgliteSession(pglite))
    await pglite.exec("UPDATE pg_database SET datistemplate = false WHERE datname IN ('template0', 'template1')")
    // One statement a call: DROP DATABASE refuses to run in the transaction a multi-statement call is.
    for (const statement of ['DROP DATABASE template0', 'DROP DATABASE template1', 'CHECKPOINT']) await pglite.exec(statement)
    return await pglite.dumpDataDir('none')
  } finally {
    await pglite.close()
  }
}

/** The embedded database's folder cannot be used: in use by a live server, or not writable. One line for the operator. */
export class DataDirError extends Error {}

/**
 * PGlite's files must have one process at a time: a second one (say, the CLI while the server
 * runs) would corrupt them. A lock file names the owner by pid and by the time that process
 * started, so a pid reused by some unrelated process (after a crash or a reboot) is told
 * apart from the owner still running: its start time differs, and the lock is taken over.
 */
async function lockDataDir(dataDir: string): Promise<() => Promise<void>> {
  const lockFile = path.join(dataDir, 'owner.pid')
  const mine = `${process.pid} ${await startTimeOf(process.pid)}`
  try {
    await mkdir(dataDir, { recursive: true })
    await writeFile(lockFile, mine, { flag: 'wx' }).catch(async (error: NodeJS.ErrnoException) => {
      if (error.code !== 'EEXIST') throw error
      const [pid, started] = (await readFile(lockFile, 'utf8')).trim().split(' ')
      const owner = Number(pid)
      if (owner !== process.pid && (await isOwnerRunning(owner, started))) {
        throw new DataDirError(
          `The embedded database in ${dataDir} is in use by process ${owner}. ` +
            'Stop that process first, or set DATABASE_URL to use PostgreSQL.',
        )
      }
      await writeFile(lockFile, mine)
    })
  } catch (error) {
    if (error instanceof DataDirError) throw error
    const code = (error as NodeJS.ErrnoException).code ?? String(error)
    throw new DataDirError(
      `DATA_DIR "${dataDir}" cannot be used (${code}): make it a folder this user can write, or set DATA_DIR to one.`,
      { cause: error },
    )
  }
  return () => rm(lockFile, { force: true })
}

/** Whether the process that wrote the lock still runs: same pid, and, where known, same start time. */
async function isOwnerRunning(pid: number, started: string | undefined): Promise<boolean> {
  if (!Number.isInteger(pid) || pid <= 0) return false
  try {
    process.kill(pid, 0)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EPERM') return false
  }
  const now = await startTimeOf(pid)
  return started === undefined || now === 'unknown' || started === 'unknown' || started === now
}

/** A process's start time in clock ticks since boot (Linux /proc), or "unknown" elsewhere. */
async function startTimeOf(pid: number): Promise<string> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8')
    // Fields after the command name, which may itself hold spaces and parentheses.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? 'unknown'
  } catch {
    return 'unknown'
  }
}
