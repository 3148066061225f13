import { setTimeout } from 'node:timers/promises'
import t from 'tap'
import { freshDatabaseEnv } from '../helpers/app.js'
import { startServerProcess } from '../helpers/server-process.js'

// The README's first command, as a user runs it: `npm start`, a first session's call, Ctrl-C.
t.test('`npm start` on a new database: the admin secret printed once, a call with it, Ctrl-C stops everything', async (t) => {
  const env = await freshDatabaseEnv(t)
  const server = startServerProcess(t, env, { npmStart: true })
  const [, url] = (await server.waitFor(/^Server listening at (http:\S+)/)) as RegExpExecArray & [string, string]
  // The banner is for the person at the terminal: on stderr, out of the JSON log on stdout.
  let banner = server.stderr()
  for (const started = Date.now(); !banner.endsWith('\n\n') && Date.now() - started < 10_000; banner = server.stderr()) await setTimeout(50)
  const [, secret = ''] = /^\nFirst start: created the API credential "admin" with every permission\.\nIts secret is shown only now:\n\n {2}(\S{32,})\n\n/.exec(banner) ?? []
  t.ok(secret, `the secret, in: ${banner}`)
  // Only the embedded database needs the server stopped for the CLI.
  const stopFirst = env.DATABASE_URL ? ' \\(with the same DATABASE_URL\\)' : ' \\(stop the server first: the embedded database serves one process\\)'
  t.match(banner, new RegExp(`\nLost it\\? Run: npm run cli -- api-credentials rotate admin${stopFirst}\n\n$`))

  const listed = await fetch(`${url}/includes/api.php`, {
    method: 'POST',
    body: new URLSearchParams({ action: 'ListOAuthCredentials', identifier: 'admin', secret, responsetype: 'json' }),
  })
  t.same(await listed.json(), { result: 'success', clients: [] }, 'the printed secret works')

  // Ctrl-C in a terminal signals the whole foreground group: npm, its shell and the server.
  process.kill(-(server.child.pid as number), 'SIGINT')
  await server.exited
  await t.rejects(fetch(`${url}/healthz`), 'nothing listens any more')
  t.equal(server.stderr(), banner, 'nothing else on stderr')
})
