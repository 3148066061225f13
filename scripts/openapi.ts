/**
 * Writes the OpenAPI documents from the app's routes and TypeBox schemas (`npm run openapi`):
 * openapi/openapi.json (everything, for Swagger UI) and openapi/credentials.openapi.json (the
 * REST resource only, for SDK generators). With `--check` it writes nothing and fails when a
 * committed file differs (CI drift check).
 */
import { readFile, writeFile } from 'node:fs/promises'
import { buildServer } from '../src/app.js'
import { loadConfig } from '../src/config.js'
import { renderOpenApi, SDK_TAGS } from '../src/http/docs.js'

const { app } = await buildServer(loadConfig({ LOG_LEVEL: 'silent' }), { database: { memory: true }, logger: false })
const documents = {
  'openapi/openapi.json': renderOpenApi(app),
  'openapi/credentials.openapi.json': renderOpenApi(app, SDK_TAGS),
}
await app.close()

let stale = false
for (const [file, document] of Object.entries(documents)) {
  const url = new URL(`../../${file}`, import.meta.url)
  if (process.argv.includes('--check')) {
    const committed = await readFile(url, 'utf8').catch(() => '')
    if (committed === document) continue
    process.stderr.write(`${file} is out of date: run \`npm run openapi\` and commit the result.\n`)
    stale = true
  } else {
    await writeFile(url, document)
    process.stdout.write(`wrote ${file}\n`)
  }
}
if (stale) process.exit(1)
if (process.argv.includes('--check')) process.stdout.write('openapi/ is up to date.\n')
