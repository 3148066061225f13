import t from 'tap'
import { buildTestApp, freshDatabaseFor } from '../helpers/app.js'
import { cli } from '../helpers/cli.js'
import { startLegacyUpstream } from '../helpers/legacy-upstream.js'

t.test("a caller registered with the original's API credential changes nothing but the URL", async (t) => {
  const upstream = await startLegacyUpstream(t)
  const fresh = await freshDatabaseFor(t)
  const { database } = fresh

  const register = ['api-credentials', 'create', '--identifier', upstream.identifier, '--secret-stdin']
  const empty = await cli({ database }, register, '\n')
  t.equal(empty.code, 1)
  t.equal(empty.stderr, '--secret-stdin: nothing was given on standard input.\n')
  const short = await cli({ database }, register, 'tooshort\n')
  t.equal(short.code, 1)
  t.equal(short.stderr, 'The secret must be 32 to 256 printable ASCII characters, without spaces\n')

  const registered = await cli({ database }, register, `${upstream.secret}\n`)
  t.equal(registered.code, 0)
  t.equal(registered.stdout, `Created API credential "${upstream.identifier}" with the secret given (only its hash is stored).\n`)
  t.notMatch(registered.stdout + registered.stderr, upstream.secret, 'the secret is not printed back')

  const test = await buildTestApp(t, { LEGACY_UPSTREAM_URL: upstream.url }, fresh)
  // The caller's own body, as it sent it to the original: only the URL is new.
  const call = async (action: string) => {
    const response = await test.app.inject({
      method: 'POST',
      url: '/includes/api.php',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: new URLSearchParams({ action, username: upstream.identifier, password: upstream.secret, responsetype: 'json' }).toString(),
    })
    return { status: response.statusCode, data: response.json<Record<string, unknown>>() }
  }
  t.same(await call('ListOAuthCredentials'), { status: 200, data: { result: 'success', clients: [] } }, 'an action this service owns')
  const forwarded = await call('GetClients')
  t.equal(forwarded.status, 200, 'an action the original keeps')
  t.match(forwarded.data, { result: 'success', totalresults: 2 })
})
