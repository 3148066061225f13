import { cp, mkdir, readdir, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { PGlite } from '@electric-sql/pglite'
import t from 'tap'
import { pgliteSession } from '../../src/db/database.js'
import { applyMigrations } from '../../src/db/migrate.js'
import { MIGRATIONS_DIR } from '../../src/paths.js'

// A migration that fails names itself, and takes the others of its start with it: the
// database stays as it was, so fixing the file and starting again is all it takes.
t.test('a failing migration is named, and nothing of the start is applied', async (t) => {
  const dir = t.testdir()
  await cp(MIGRATIONS_DIR, dir, { recursive: true })
  const broken = '99990101000000_broken'
  await mkdir(path.join(dir, broken))
  await writeFile(path.join(dir, broken, 'migration.sql'), 'ALTER TABLE credential ADD COLUMN half_done integer;\nSELECT 1 / 0;\n')
  const pglite = new PGlite()
  t.teardown(() => pglite.close())

  await t.rejects(applyMigrations(pgliteSession(pglite), dir), {
    message: `Migration ${broken} failed (division by zero): none of this start's migrations was applied`,
  })
  const tables = await pglite.query(`SELECT count(*)::int AS n FROM pg_tables WHERE tablename IN ('credential', '_prisma_migrations')`)
  t.same(tables.rows, [{ n: 0 }], 'not even the migrations before it')

  const good = (await readdir(MIGRATIONS_DIR, { withFileTypes: true })).filter((entry) => entry.isDirectory()).length
  const applied = await applyMigrations(pgliteSession(pglite), MIGRATIONS_DIR)
  t.equal(applied.length, good, 'without the broken file, the next start applies them all')
})
