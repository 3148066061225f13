/**
 * Writes openapi/openapi.json from the app's routes and TypeBox schemas (`npm run openapi`).
 * With `--check` it writes nothing and fails when the committed file differs (CI drift check).
 */
import { readFile, writeFile } from 'node:fs/promises'
import { buildServer } from '../src/app.js'
import { loadConfig } from '../src/config.js'
import { renderOpenApi } from '../src/http/docs.js'

const FILE = new URL('../../openapi/openapi.json', import.meta.url)

const { app } = await buildServer(loadConfig({ LOG_LEVEL: 'silent' }), { database: { memory: true }, logger: false })
const document = renderOpenApi(app)
await app.close()

if (process.argv.includes('--check')) {
  const committed = await readFile(FILE, 'utf8').catch(() => '')
  if (committed !== document) {
    process.stderr.write('openapi/openapi.json is out of date: run `npm run openapi` and commit the result.\n')
    process.exit(1)
  }
  process.stdout.write('openapi/openapi.json is up to date.\n')
} else {
  await writeFile(FILE, document)
  process.stdout.write('wrote openapi/openapi.json\n')
}
