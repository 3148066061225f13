// Builds only what is out of date, so `npm start` and `npm run cli` cost nothing to build when
// nothing changed: the Prisma client when the schema is newer than it, dist/ when a source is
// newer than the last build. The tools' own output goes to stderr: a CLI's stdout stays its own.
import { spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, readdirSync, statSync, utimesSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)))
const at = (file) => path.join(root, file)
const GENERATED = at('src/generated/prisma/client.ts')
const STAMP = at('dist/.build-stamp')

/** The newest modification time among these files and everything under these folders. */
function newest(paths) {
  let latest = 0
  for (const entry of paths) {
    if (!existsSync(entry)) continue
    const stat = statSync(entry)
    latest = Math.max(latest, stat.mtimeMs)
    if (stat.isDirectory()) latest = Math.max(latest, newest(readdirSync(entry).map((name) => path.join(entry, name))))
  }
  return latest
}

const modified = (file) => (existsSync(file) ? statSync(file).mtimeMs : -1)

function run(what, args) {
  const result = spawnSync(process.execPath, args, { cwd: root, stdio: ['ignore', 2, 2] })
  if (result.status !== 0) {
    process.stderr.write(`Build failed: ${what} exited with ${result.status ?? result.signal}.\n`)
    process.exit(1)
  }
}

const force = process.argv.includes('--force')
const schema = [at('prisma/schema.prisma'), at('prisma.config.ts'), at('package-lock.json')]
if (force || newest(schema) > modified(GENERATED)) {
  run('prisma generate', [at('node_modules/prisma/build/index.js'), 'generate'])
}
const sources = [at('src'), at('scripts'), at('prisma'), at('tsconfig.json'), at('tsconfig.build.json'), at('package-lock.json')]
if (force || newest(sources) > modified(STAMP)) {
  const started = new Date()
  run('tsc', [at('node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json'])
  mkdirSync(path.dirname(STAMP), { recursive: true })
  writeFileSync(STAMP, '')
  // Dated from the start: a source saved while tsc ran is newer, and builds next time.
  utimesSync(STAMP, started, started)
}
