import { createHash, randomUUID } from 'node:crypto'
import { readdir, readFile } from 'node:fs/promises'
import path from 'node:path'
import { MIGRATIONS_DIR } from '../paths.js'

/** The little a migration needs from a database: plain SQL, one transaction. */
export interface MigrationSession {
  /** Runs `work` inside one transaction; `exec` runs (possibly several) SQL statements. */
  transaction<T>(work: (tx: MigrationTx) => Promise<T>): Promise<T>
}

export interface MigrationTx {
  /** `timeoutMs`: waits this long for an answer instead of the database's own bound. */
  exec(sql: string, options?: { timeoutMs: number }): Promise<void>
  query<R>(sql: string, params: unknown[]): Promise<R[]>
}

/**
 * Applies the committed `prisma/migrations/<name>/migration.sql` files that the database has
 * not seen, in name order, recording each in `_prisma_migrations` with Prisma's own layout and
 * checksum (sha256 of the file), so Prisma's tooling reads the history as its own. Prisma's
 * native migration engine cannot be downloaded on our machines; this is the same job in
 * plain SQL. An advisory lock lets several replicas start at once.
 */
export async function applyMigrations(
  session: MigrationSession,
  dir: string = MIGRATIONS_DIR,
): Promise<string[]> {
  const names = (await readdir(dir, { withFileTypes: true }))
    .filter((entry) => entry.isDirectory())
    .map((entry) => entry.name)
    .sort()
  const migrations = await Promise.all(
    names.map(async (name) => {
      const sql = await readFile(path.join(dir, name, 'migration.sql'), 'utf8')
      return { name, sql, checksum: createHash('sha256').update(sql).digest('hex') }
    }),
  )
  return session.transaction(async (tx) => {
    await tx.exec(`SELECT pg_advisory_xact_lock(72707368);
      CREATE TABLE IF NOT EXISTS "_prisma_migrations" (
        "id" VARCHAR(36) PRIMARY KEY NOT NULL,
        "checksum" VARCHAR(64) NOT NULL,
        "finished_at" TIMESTAMPTZ,
        "migration_name" VARCHAR(255) NOT NULL,
        "logs" TEXT,
        "rolled_back_at" TIMESTAMPTZ,
        "started_at" TIMESTAMPTZ NOT NULL DEFAULT now(),
        "applied_steps_count" INTEGER NOT NULL DEFAULT 0
      );`)
    const applied = new Map(
      (
        await tx.query<{ migration_name: string; checksum: string }>(
          'SELECT migration_name, checksum FROM "_prisma_migrations" WHERE rolled_back_at IS NULL',
          [],
        )
      ).map((row) => [row.migration_name, row.checksum]),
    )
    const done: string[] = []
    for (const migration of migrations) {
      const seen = applied.get(migration.name)
      if (seen !== undefined) {
        if (seen !== migration.checksum) {
          throw new Error(`Migration ${migration.name} was changed after it was applied`)
        }
        continue
      }
      try {
        await tx.exec(migration.sql)
      } catch (error) {
        // Named, so that the one line a failed start prints says which file to look at.
        const reason = error instanceof Error ? error.message : String(error)
        throw new Error(`Migration ${migration.name} failed (${reason}): none of this start's migrations was applied`, { cause: error })
      }
      await tx.query(
        `INSERT INTO "_prisma_migrations" (id, checksum, finished_at, migration_name, applied_steps_count)
         VALUES ($1, $2, now(), $3, 1)`,
        [randomUUID(), migration.checksum, migration.name],
      )
      done.push(migration.name)
    }
    return done
  })
}
