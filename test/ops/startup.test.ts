import t from 'tap'
import { freshDatabase } from '../helpers/app.js'
import { startServerProcess } from '../helpers/server-process.js'

t.test('a bad setting stops the server before it opens anything: one line naming it, exit 1', async (t) => {
  const server = startServerProcess(t, { PORT: '70000', DATA_DIR: t.testdir() })
  const [code] = await server.exited
  t.equal(code, 1)
  t.match(server.stderr(), /^Invalid configuration: PORT=70000 \([^\n]+\)\n$/)
})

t.test('the first start on an empty database prints an admin credential once, and it works', async (t) => {
  const { database, drop } = await freshDatabase()
  t.teardown(drop)
  const server = startServerProcess(t, 'url' in database ? { DATABASE_URL: database.url } : { DATA_DIR: t.testdir() })
  const [, url] = (await server.waitFor(/^Server listening at (http:\S+)/)) as RegExpExecArray & [string, string]
  const [, identifier] = (await server.waitFor(/^First start: created the API credential "([^"]+)"/)) as RegExpExecArray &
    [string, string]
  const [, secret] = (await server.waitFor(/^ {2}(\S{32,})$/)) as RegExpExecArray & [string, string]

  const response = await fetch(`${url}/includes/api.php`, {
    method: 'POST',
    body: new URLSearchParams({ action: 'ListOAuthCredentials', identifier, secret, responsetype: 'json' }),
  })
  t.equal(response.status, 200)
  t.same(await response.json(), { result: 'success', clients: [] }, 'the printed secret is accepted')

  server.child.kill('SIGTERM')
  const [code] = await server.exited
  t.equal(code, 0)
})
