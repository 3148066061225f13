// Keeps prisma/schema.prisma and the committed SQL migrations in step, without Prisma's native
// engine (it cannot be downloaded here): Prisma's own wasm schema engine diffs the migrations,
// replayed on an in-memory PGlite shadow database, against the schema.
//   npm run db:check        exits 1 and prints the SQL when the schema has unmigrated changes
//   npm run db:new -- name  writes that SQL as prisma/migrations/<timestamp>_<name>/migration.sql
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { PGlite } from '@electric-sql/pglite'
import { bindMigrationAwareSqlAdapterFactory } from '@prisma/driver-adapter-utils'
import { SchemaEngine } from '@prisma/schema-engine-wasm'
import { PrismaPGlite } from 'pglite-prisma-adapter'

const migrationsDir = path.resolve('prisma/migrations')
const schemaPath = path.resolve('prisma/schema.prisma')

async function migrationList() {
  const names = (await readdir(migrationsDir, { withFileTypes: true }))
    .filter((entry) => entry.isDirectory())
    .map((entry) => entry.name)
    .sort()
  return {
    baseDir: migrationsDir,
    lockfile: { path: 'migration_lock.toml', content: await readFile(path.join(migrationsDir, 'migration_lock.toml'), 'utf8') },
    shadowDbInitScript: '',
    migrationDirectories: await Promise.all(
      names.map(async (name) => ({
        path: name,
        migrationFile: {
          path: 'migration.sql',
          content: { tag: 'ok', value: await readFile(path.join(migrationsDir, name, 'migration.sql'), 'utf8') },
        },
      })),
    ),
  }
}

async function pendingSql() {
  const schema = await readFile(schemaPath, 'utf8')
  const adapter = bindMigrationAwareSqlAdapterFactory(new PrismaPGlite(new PGlite()))
  const engine = await SchemaEngine.new({ datamodels: [[schemaPath, schema]] }, () => {}, adapter)
  const result = await engine.diff({
    from: { tag: 'migrations', ...(await migrationList()) },
    to: { tag: 'schemaDatamodel', files: [{ path: schemaPath, content: schema }] },
    script: true,
    exitCode: null,
    filters: { externalTables: [], externalEnums: [] },
  })
  return result.stdout.replace(/^-- This is an empty migration\.\s*$/, '').trim()
}

const [command, name] = process.argv.slice(2)
const sql = await pendingSql()
if (command === 'check') {
  if (sql === '') {
    console.log('prisma/schema.prisma and prisma/migrations agree.')
  } else {
    console.error(`prisma/schema.prisma has changes no migration makes. Run npm run db:new -- <name>:\n\n${sql}`)
    process.exitCode = 1
  }
} else if (command === 'new' && /^[a-z0-9_]+$/.test(name ?? '')) {
  if (sql === '') {
    console.log('Nothing to migrate.')
  } else {
    const stamp = new Date().toISOString().replace(/\D/g, '').slice(0, 14)
    const dir = path.join(migrationsDir, `${stamp}_${name}`)
    await mkdir(dir)
    await writeFile(path.join(dir, 'migration.sql'), `${sql}\n`)
    console.log(`Wrote ${path.relative(process.cwd(), dir)}/migration.sql`)
  }
} else {
  console.error('Usage: node --experimental-wasm-modules scripts/migrations.mjs check | new <snake_case_name>')
  process.exitCode = 2
}
