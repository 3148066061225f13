import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { readFileSync } from 'node:fs'
import path from 'node:path'
import t from 'tap'
import { startServer } from '../src/app.js'
import { loadConfig } from '../src/config.js'
import { PROJECT_ROOT } from '../src/paths.js'
import { freshDatabaseFor } from './helpers/app.js'

const README = readFileSync(path.join(PROJECT_ROOT, 'README.md'), 'utf8')
/** The README's session: its `sh` blocks under "A first session", run in order, as written. */
const SESSION = /^## A first session\n([\s\S]*?)^## /m.exec(README)?.[1] ?? ''
const BLOCKS = [...SESSION.matchAll(/^```sh\n([\s\S]*?)^```$/gm)].map((match) => match[1] as string)
/** The address the README uses; the test's server listens elsewhere. */
const README_BASE = 'http://127.0.0.1:3000'

t.test("the README's first session works on a fresh database, top to bottom", async (t) => {
  t.ok(BLOCKS.length >= 4, `found the session's shell blocks (${BLOCKS.length})`)
  const fresh = await freshDatabaseFor(t)
  const { app, address, firstAdmin } = await startServer(loadConfig({ LOG_LEVEL: 'silent', PORT: '0' }), {
    database: fresh.database,
    logger: false,
  })
  t.teardown(() => app.close())
  t.ok(firstAdmin, 'the first start printed an admin credential')

  const script = BLOCKS.join('\n').replaceAll(README_BASE, address)
  const bash = spawn('bash', ['-euo', 'pipefail', '-c', script], {
    env: { PATH: process.env.PATH, HOME: process.env.HOME, API_SECRET: firstAdmin?.secret },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let stdout = ''
  let stderr = ''
  bash.stdout.on('data', (chunk) => (stdout += String(chunk)))
  bash.stderr.on('data', (chunk) => (stderr += String(chunk)))
  const [code] = (await once(bash, 'exit')) as [number | null]
  t.equal(code, 0, 'every block runs without an error')
  t.equal(stderr, '', 'nothing on stderr')

  // Each `# {...}` comment in a block shows the answer to expect; "..." stands for the rest
  // (the last three dots of a longer run: "OAUTH...." is "OAUTH." and then anything).
  const expected = BLOCKS.flatMap((block) => [...block.matchAll(/^# (\{.*\})$/gm)].map((match) => match[1] as string))
  t.ok(expected.length >= 4, 'the README shows the answers to expect')
  const lines = stdout.split('\n')
  for (const answer of expected) {
    const pattern = new RegExp(`^${answer.split(/\.\.\.(?!\.)/).map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`)
    t.ok(lines.some((line) => pattern.test(line)), `the session printed ${answer}`)
  }
})
