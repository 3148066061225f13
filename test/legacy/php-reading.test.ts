import { gzipSync } from 'node:zlib'
import fc from 'fast-check'
import t, { type Test } from 'tap'
import { buildTestApp } from '../helpers/app.js'
import { startPhpEcho } from '../helpers/legacy-upstream.js'

/*
 * The pass-through forwards an action only when PHP cannot read one of the four this service
 * owns from the same request. Asked of PHP itself: the upstream here is PHP's built-in server
 * answering what its own parsers read ($_GET, $_POST, $_COOKIE). Whatever reaches it must name
 * no owned action anywhere PHP looks; what stays here is answered here.
 */
const OWNED = ['createoauthcredential', 'listoauthcredentials', 'updateoauthcredential', 'deleteoauthcredential']
const owned = (value: unknown): boolean =>
  Array.isArray(value) || (typeof value === 'object' && value !== null)
    ? Object.values(value).some(owned)
    : OWNED.includes(String(value).replace(/[\s\0]/g, '').toLowerCase())

interface PhpView {
  php: { get: Record<string, unknown>; post: Record<string, unknown>; cookie: Record<string, unknown> }
}

const echo = await startPhpEcho(t)
const test = await buildTestApp(t, { LEGACY_UPSTREAM_URL: echo, RATE_LIMIT_PER_IP: '1000000' })

interface Sent {
  query?: string
  body: string | Buffer
  contentType: string
  headers?: Record<string, string>
}

/** What PHP read, when the service forwarded the request; undefined when it answered it here. */
async function forwardedAs(sent: Sent): Promise<PhpView['php'] | undefined> {
  const response = await test.app.inject({
    method: 'POST',
    url: `/includes/api.php${sent.query ? `?${sent.query}` : ''}`,
    headers: { 'content-type': sent.contentType, ...sent.headers },
    payload: sent.body,
  })
  // Answered here: in the legacy shape (NVP, as no responsetype is asked for).
  return response.body.startsWith('{"php":') ? (JSON.parse(response.body) as PhpView).php : undefined
}

function assertNoOwnedAction(t: Test, php: PhpView['php'] | undefined, why: string) {
  if (php === undefined) return t.pass(`${why}: answered here`)
  t.notOk([php.get.action, php.post.action, php.cookie.action].some(owned), `${why}: PHP read ${JSON.stringify(php)}`)
}

const part = (name: string, value: string) => `Content-Disposition: form-data; name="${name}"\r\n\r\n${value}`
const multipart = (boundary: string, parts: string[], end = '\r\n') =>
  `${parts.map((body) => `--${boundary}${end}${body}${end}`).join('')}--${boundary}--${end}`

t.test('what clients send is forwarded, and PHP reads the same action', async (t) => {
  const form = new FormData()
  form.append('action', 'GetClients')
  form.append('note', 'transaction\r\n--not a boundary')
  form.append('action_type', 'x')
  form.append('actions', 'y')
  const encoded = new Response(form)
  const cases: [string, Sent][] = [
    ['a form body', { body: 'action=GetClients&responsetype=json', contentType: 'application/x-www-form-urlencoded' }],
    ['a multipart body (fetch FormData)', { body: Buffer.from(await encoded.arrayBuffer()), contentType: encoded.headers.get('content-type') as string }],
    [
      'a multipart part with more headers (as Java clients write them)',
      {
        body: multipart('B', ['Content-Disposition: form-data; name="action"\r\nContent-Type: text/plain; charset=UTF-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\nGetClients']),
        contentType: 'multipart/form-data; boundary=B',
      },
    ],
    ['the action in the query, a JSON body', { query: 'action=GetClients', body: '{"responsetype":"json"}', contentType: 'application/json' }],
  ]
  for (const [why, sent] of cases) {
    const php = await forwardedAs(sent)
    t.equal(php?.post.action ?? php?.get.action, 'GetClients', why)
  }
})

t.test('requests PHP could read as an owned action are never forwarded', async (t) => {
  const withAction = (more: string[]) => multipart('B', [part('action', 'GetClients'), ...more])
  const cases: [string, Sent][] = [
    ['a colon-less line continues the disposition', { body: withAction(['Content-Disposition: form-data; name="x"\r\n;name=action\r\n\r\nUpdateOAuthCredential']), contentType: 'multipart/form-data; boundary=B' }],
    ['a folded line', { body: withAction(['Content-Disposition: form-data; name="act\r\n ion"\r\n\r\nUpdateOAuthCredential']), contentType: 'multipart/form-data; boundary=B' }],
    ['the boundary inside a quoted parameter', { body: withAction(['Content-Disposition: form-data; q="--B"; name=action; name*=utf-8\'\'x\r\n\r\nUpdateOAuthCredential']), contentType: 'multipart/form-data; boundary=B' }],
    ['single quotes', { body: withAction(["Content-Disposition: form-data; name=action; z='; name=\"x\"; y='\r\n\r\nUpdateOAuthCredential"]), contentType: 'multipart/form-data; boundary=B' }],
    ['another boundary for PHP', { body: withAction([part('pad', multipart('AAA', [part('action', 'UpdateOAuthCredential')]))]), contentType: 'multipart/form-data; xboundary=AAA; boundary=B' }],
    ['a second disposition header', { body: withAction(['Content-Disposition: form-data; name="x"\r\nContent-Disposition: form-data; name="action"\r\n\r\nUpdateOAuthCredential']), contentType: 'multipart/form-data; boundary=B' }],
    ['a name PHP ends at its first =', { body: 'action=GetClients&action=UpdateOAuthCredential]=1', contentType: 'application/x-www-form-urlencoded' }],
    ['a ; separator', { body: 'action=GetClients;action=UpdateOAuthCredential', contentType: 'application/x-www-form-urlencoded' }],
    ['a cookie after a tab', { body: 'action=GetClients', contentType: 'application/x-www-form-urlencoded', headers: { cookie: 'a=1;\taction=UpdateOAuthCredential' } }],
    ['a cookie name percent-encoded', { body: 'action=GetClients', contentType: 'application/x-www-form-urlencoded', headers: { cookie: '%61ction=UpdateOAuthCredential' } }],
    [
      'a NUL after the boundary line (PHP compares C strings)',
      { query: 'action=GetClients', body: `--B\r\n${part('x', 'hello')}\r\n--B\0\r\n${part('action', 'UpdateOAuthCredential')}\r\n--B--\r\n`, contentType: 'multipart/form-data; boundary=B' },
    ],
    [
      'a line longer than PHP reads at once, ending in the boundary',
      { query: 'action=GetClients', body: `${'x'.repeat(5120)}--B\r\n${part('action', 'UpdateOAuthCredential')}\r\n--B--\r\n`, contentType: 'multipart/form-data; boundary=B' },
    ],
    [
      'a compressed body',
      { query: 'action=GetClients', body: gzipSync('action=UpdateOAuthCredential'), contentType: 'application/x-www-form-urlencoded', headers: { 'content-encoding': 'gzip' } },
    ],
  ]
  for (const [why, sent] of cases) assertNoOwnedAction(t, await forwardedAs(sent), why)
})

t.test('multipart bodies made of tricky parts: whatever is forwarded, PHP reads no owned action in it', async (t) => {
  // Mostly plain parts, so that much is forwarded; some with one line that PHP may read otherwise.
  const plainDisposition = fc.constantFrom('Content-Disposition: form-data; name="x"', 'Content-Disposition: form-data; name="note"')
  const trickyLine = fc.constantFrom(
    'Content-Disposition: form-data; name="action"',
    'content-disposition:form-data;name=action',
    'Content-Disposition : form-data; name="action"',
    'Content-Disposition: form-data; name="act',
    'ion"',
    ' name="action"',
    ';name=action',
    '--B',
    "Content-Disposition: form-data; name='action'",
    'Content-Disposition: form-data; name="x"; name="action"',
    "Content-Disposition: form-data; name*=utf-8''x; name=action",
    'Content-Disposition: form-data; q="--B"; name=action',
    '--B\0',
    `${'x'.repeat(5120)}--B`,
    `Content-Disposition: form-data; name=\0${'x'.repeat(5120)}action`,
    'Content-Disposition: form-data; name=" action"',
    'Content-Disposition: form-data; name="action"; filename="a.txt"',
    'Content-Type: text/plain',
  )
  // Each part holds an owned action: a part PHP reads as `action` is then a failure to see.
  const values = fc.constantFrom('UpdateOAuthCredential', 'UpdateOAuthCredential\r\n--Bx', '--B\r\nUpdateOAuthCredential')
  const headers = fc
    .tuple(plainDisposition, fc.option(trickyLine, { freq: 2 }), fc.boolean())
    .map(([plain, tricky, before]) => (tricky === null ? [plain] : before ? [tricky, plain] : [plain, tricky]))
  const parts = fc.array(fc.record({ headers, value: values }), { minLength: 1, maxLength: 3 })
  const bodies = fc.record({
    parts,
    end: fc.constantFrom('\r\n', '\n'),
    closing: fc.constantFrom('--B--', '--B--', '--B--', '--B', ''),
    contentType: fc.constantFrom(
      'multipart/form-data; boundary=B',
      'multipart/form-data; boundary=B',
      'multipart/form-data; boundary="B"',
      'multipart/form-data; xboundary=B; boundary=C',
      'multipart/form-data; boundary=B; boundary=C',
    ),
  })
  let forwarded = 0
  await fc.assert(
    fc.asyncProperty(bodies, async ({ parts, end, closing, contentType }) => {
      // A plain action part first, so the service reads GetClients and may forward.
      const all = [{ headers: ['Content-Disposition: form-data; name="action"'], value: 'GetClients' }, ...parts]
      const body = `${all.map(({ headers, value }) => `--B${end}${headers.join(end)}${end}${end}${value}${end}`).join('')}${closing}${end}`
      const php = await forwardedAs({ body, contentType })
      if (php === undefined) return true
      forwarded++
      return ![php.get.action, php.post.action, php.cookie.action].some(owned)
    }),
    { numRuns: 2000, seed: 20261205, unbiased: true },
  )
  t.ok(forwarded > 0, `some of them were forwarded (${forwarded} of 2000)`)
})
