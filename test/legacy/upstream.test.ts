import type { AddressInfo } from 'node:net'
import t from 'tap'
import { loggerOptions } from '../../src/logging.js'
import { buildTestApp, type TestApp } from '../helpers/app.js'
import { startLegacyUpstream, type LegacyUpstream } from '../helpers/legacy-upstream.js'
import { captureLogs } from '../helpers/logs.js'

interface Sent {
  method?: 'GET' | 'POST'
  query?: string
  body?: string | Buffer<ArrayBuffer>
  contentType?: string
  headers?: Record<string, string>
  remoteAddress?: string
}

/** The same request to the service's api.php and, for comparison, straight to the upstream. */
async function viaService(test: TestApp, sent: Sent) {
  const response = await test.app.inject({
    method: sent.method ?? 'POST',
    url: `/includes/api.php${sent.query === undefined ? '' : `?${sent.query}`}`,
    headers: { ...(sent.contentType && { 'content-type': sent.contentType }), ...sent.headers },
    remoteAddress: sent.remoteAddress,
    payload: sent.body,
  })
  return { status: response.statusCode, contentType: response.headers['content-type'], body: response.rawPayload }
}

async function direct(upstream: LegacyUpstream, sent: Sent) {
  const response = await fetch(`${upstream.url}${sent.query === undefined ? '' : `?${sent.query}`}`, {
    method: sent.method ?? 'POST',
    headers: sent.contentType ? { 'content-type': sent.contentType } : {},
    body: sent.body,
  })
  return { status: response.status, contentType: response.headers.get('content-type'), body: Buffer.from(await response.arrayBuffer()) }
}

const FORM = 'application/x-www-form-urlencoded'

function form(upstream: LegacyUpstream, fields: Record<string, string>): string {
  return new URLSearchParams({ identifier: upstream.identifier, secret: upstream.secret, ...fields }).toString()
}

/** A multipart/form-data body of these parts (each its headers, a blank line, its value). */
function multipart(boundary: string, parts: string[]): string {
  return `${parts.map((part) => `--${boundary}\r\n${part}\r\n`).join('')}--${boundary}--\r\n`
}

function field(name: string, value: string): string {
  return `Content-Disposition: form-data; name="${name}"\r\n\r\n${value}`
}

/** What the upstream's EchoRequest says it received. */
function echoed(body: Buffer) {
  return JSON.parse(body.toString()) as {
    method: string
    query: string
    contentType: string
    headers: Record<string, string>
    bodyBase64: string
  }
}

// One app and one upstream for the whole file: each starts in seconds on a loaded machine.
// Each part calls from an address of its own, so the per-address limit counts only its calls.
t.test('api.php with LEGACY_UPSTREAM_URL set', async (t) => {
  const upstream = await startLegacyUpstream(t)
  const { lines, stream } = captureLogs()
  const timeoutMs = 5000
  const test = await buildTestApp(
    t,
    {
      LEGACY_UPSTREAM_URL: upstream.url,
      LEGACY_UPSTREAM_TIMEOUT_MS: String(timeoutMs),
      TRUST_PROXY: '10.0.0.0/8',
      RATE_LIMIT_PER_IP: '20',
    },
    undefined,
    { logger: { ...loggerOptions('info'), stream } },
  )
  const echo = () => form(upstream, { action: 'EchoRequest', responsetype: 'json' })

  await t.test('answers in json, xml and nvp come back unchanged: status, content type, body', async (t) => {
    for (const responsetype of ['json', 'xml', 'nvp']) {
      const sent = { body: form(upstream, { action: 'GetClients', responsetype }), contentType: FORM }
      const [served, original] = await Promise.all([viaService(test, sent), direct(upstream, sent)])
      t.equal(served.status, 200, responsetype)
      t.equal(served.contentType, original.contentType, `${responsetype}: content type`)
      t.ok(served.body.equals(original.body), `${responsetype}: the same bytes`)
      t.match(served.body.toString(), 'Brown & Sons', 'the upstream wrote it')
    }
    const refused = { body: form(upstream, { action: 'GetClients', secret: 'wrong', responsetype: 'json' }), contentType: FORM }
    const served = await viaService(test, refused)
    t.equal(served.status, 403, "the upstream's status too: it authenticates forwarded actions")
    t.same(JSON.parse(served.body.toString()), { result: 'error', message: 'Authentication Failed' })
  })

  await t.test('a form body, its query string and content type arrive as they were sent', async (t) => {
    const body = `${echo()}&redirectUri%5B%5D=https%3A%2F%2Fa.example%2Fcb&x=%C3%A9+%2B`
    const served = await viaService(test, { body, contentType: `${FORM}; charset=UTF-8`, query: 'from=query&empty=&a%5B0%5D=1' })
    const got = echoed(served.body)
    t.equal(got.method, 'POST')
    t.equal(got.query, 'from=query&empty=&a%5B0%5D=1')
    t.equal(got.contentType, `${FORM}; charset=UTF-8`)
    t.equal(Buffer.from(got.bodyBase64, 'base64').toString(), body)
  })

  await t.test('a multipart body arrives byte for byte, boundary included', async (t) => {
    const data = new FormData()
    for (const [name, value] of new URLSearchParams(echo())) data.append(name, value)
    data.append('note', 'line one\r\nline two ✓')
    const encoded = new Response(data)
    const body = Buffer.from(await encoded.arrayBuffer())
    const contentType = encoded.headers.get('content-type') as string
    const got = echoed((await viaService(test, { body, contentType, remoteAddress: '127.0.0.2' })).body)
    t.equal(got.contentType, contentType)
    t.ok(Buffer.from(got.bodyBase64, 'base64').equals(body), 'the same bytes')

    const big = new FormData()
    big.append('action', 'EchoRequest')
    for (let part = 0; part < 5; part++) big.append(`filler${part}`, 'x'.repeat(15_000))
    const large = new Response(big)
    const tooLarge = await viaService(test, {
      body: Buffer.from(await large.arrayBuffer()),
      contentType: large.headers.get('content-type') as string,
      remoteAddress: '127.0.0.2',
    })
    t.equal(tooLarge.status, 413, 'a body larger than api.php admits is not forwarded')
    t.equal(tooLarge.body.toString(), 'result=error;message=Request body is too large')
  })

  await t.test('a JSON body arrives unchanged', async (t) => {
    const body = JSON.stringify({ action: 'EchoRequest', identifier: upstream.identifier, secret: upstream.secret, responsetype: 'json', n: 1.5 })
    const got = echoed((await viaService(test, { body, contentType: 'application/json', remoteAddress: '127.0.0.3' })).body)
    t.equal(Buffer.from(got.bodyBase64, 'base64').toString(), body)
  })

  await t.test('GET: the query string is the request', async (t) => {
    const query = echo()
    const got = echoed((await viaService(test, { method: 'GET', query, remoteAddress: '127.0.0.4' })).body)
    t.equal(got.method, 'GET')
    t.equal(got.query, query)
    t.equal(got.bodyBase64, '')
  })

  await t.test('hop-by-hop headers are dropped, end-to-end ones kept', async (t) => {
    const got = echoed(
      (
        await viaService(test, {
          body: echo(),
          contentType: FORM,
          remoteAddress: '127.0.0.5',
          headers: {
            connection: 'keep-alive, x-hop-secret',
            'x-hop-secret': 'must not travel',
            'keep-alive': 'timeout=5',
            'proxy-authorization': 'Basic c2VjcmV0',
            te: 'trailers',
            'x-caller-tag': 'kept',
            'user-agent': 'billing-sync/1.0',
            // Claims of who the client is: only X-Forwarded-For, which this hop writes, travels.
            forwarded: 'for=10.0.0.1',
            'x-real-ip': '10.0.0.1',
            'x-forwarded-host': 'evil.example',
            'true-client-ip': '10.0.0.1',
          },
        })
      ).body,
    )
    for (const name of ['x-hop-secret', 'keep-alive', 'proxy-authorization', 'te', 'forwarded', 'x-real-ip', 'x-forwarded-host', 'true-client-ip']) {
      t.notOk(name in got.headers, `${name} dropped`)
    }
    t.equal(got.headers['x-caller-tag'], 'kept')
    t.equal(got.headers['user-agent'], 'billing-sync/1.0')
    t.match(got.headers['x-request-id'], /^[\w.:-]+$/, "this service's request id, to find the call in both logs")
  })

  await t.test('X-Forwarded-For follows TRUST_PROXY', async (t) => {
    const cases = [
      ['10.0.0.2', '198.51.100.66, 10.0.0.1', '198.51.100.66, 10.0.0.1, 10.0.0.2', 'a trusted chain, with the peer appended'],
      ['203.0.113.7', '198.51.100.66', '203.0.113.7', 'an untrusted peer: its own chain is not believed'],
      ['::ffff:203.0.113.8', '', '203.0.113.8', 'an IPv4 peer of a dual-stack listener, as the original would have seen it'],
    ] as const
    for (const [remoteAddress, sent, forwarded, why] of cases) {
      const served = await viaService(test, { body: echo(), contentType: FORM, remoteAddress, headers: { 'x-forwarded-for': sent } })
      t.equal(echoed(served.body).headers['x-forwarded-for'], forwarded, why)
    }
  })

  await t.test('actions the service owns are still answered here', async (t) => {
    const served = await viaService(test, {
      body: new URLSearchParams({ action: 'ListOAuthCredentials', identifier: test.admin.identifier, secret: test.admin.secret, responsetype: 'json' }).toString(),
      contentType: FORM,
      remoteAddress: '127.0.0.6',
    })
    t.equal(served.status, 200)
    t.same(JSON.parse(served.body.toString()), { result: 'success', clients: [] })
  })

  await t.test('an action PHP could read as one of the service\'s own is answered here, never forwarded', async (t) => {
    // With the service's own credentials: the upstream would refuse them (403 Authentication
    // Failed), so an answer of the service's own shows the request stayed here.
    const admin = { identifier: test.admin.identifier, secret: test.admin.secret, responsetype: 'json' }
    // A request the upstream would answer, were nothing else in it.
    const getClients = new URLSearchParams({ ...admin, action: 'GetClients' }).toString()
    const cases: { why: string; sent: Sent; answer: { status: number; message: string } }[] = [
      {
        why: 'the query names an owned action, a JSON body another (PHP may read the query alone)',
        sent: { query: 'action=ListOAuthCredentials', body: JSON.stringify({ ...admin, action: 'EchoRequest' }), contentType: 'application/json' },
        answer: { status: 200, message: 'API Function Not Found' },
      },
      {
        why: 'the query and a form body name two actions',
        sent: { query: 'action=UpdateOAuthCredential', body: getClients, contentType: FORM },
        answer: { status: 200, message: 'API Function Not Found' },
      },
      {
        why: 'the body names two actions (PHP takes the last)',
        sent: { body: `${new URLSearchParams(admin)}&action=GetClients&action=UpdateOAuthCredential`, contentType: FORM },
        answer: { status: 400, message: 'Empty action request' },
      },
      {
        why: 'the action is a list',
        sent: { body: `${new URLSearchParams(admin)}&action[]=UpdateOAuthCredential`, contentType: FORM },
        answer: { status: 400, message: 'Empty action request' },
      },
      // PHP reads these names as `action` too: leading spaces dropped, cut at a NUL.
      ...['%20action', '++action', 'action%00x'].map((alias) => ({
        why: `another parameter PHP reads as action: ${alias}`,
        sent: { body: `${getClients}&${alias}=UpdateOAuthCredential`, contentType: FORM },
        answer: { status: 200, message: 'API Function Not Found' },
      })),
      {
        why: 'an action in the query under an alias, beside a JSON body',
        sent: { query: '%20action=UpdateOAuthCredential', body: JSON.stringify({ ...admin, action: 'GetClients' }), contentType: 'application/json' },
        answer: { status: 200, message: 'API Function Not Found' },
      },
      {
        why: 'an action cookie, which PHP may put in $_REQUEST over the body',
        sent: { body: getClients, contentType: FORM, headers: { cookie: 'theme=dark; action=UpdateOAuthCredential' } },
        answer: { status: 200, message: 'API Function Not Found' },
      },
      {
        why: 'an action cookie, first in its header',
        sent: { body: getClients, contentType: FORM, headers: { cookie: 'action=UpdateOAuthCredential' } },
        answer: { status: 200, message: 'API Function Not Found' },
      },
      {
        why: 'a name PHP ends at its first "=", where qs ends it at "]=" (PHP reads a second action)',
        sent: { body: `${getClients}&action=UpdateOAuthCredential]=1`, contentType: FORM },
        answer: { status: 200, message: 'API Function Not Found' },
      },
      {
        why: 'a multipart body PHP splits by another boundary (the first text "boundary" in the header)',
        sent: {
          body: multipart('BBB', [
            ...Object.entries({ ...admin, action: 'GetClients' }).map(([name, value]) => field(name, value)),
            field('pad', multipart('AAA', [field('action', 'UpdateOAuthCredential'), field('credentialId', '1')])),
          ]),
          contentType: 'multipart/form-data; xboundary=AAA; boundary=BBB',
        },
        answer: { status: 200, message: 'API Function Not Found' },
      },
      {
        why: "a multipart part that may name action otherwise than as form-data; name=\"action\" (quoted with ')",
        sent: {
          body: multipart('BBB', [
            ...Object.entries({ ...admin, action: 'GetClients' }).map(([name, value]) => field(name, value)),
            "Content-Disposition: form-data; name='action'\r\n\r\nUpdateOAuthCredential",
          ]),
          contentType: 'multipart/form-data; boundary=BBB',
        },
        answer: { status: 200, message: 'API Function Not Found' },
      },
      ...['UpdateOAuthCredential ', ' listoauthcredentials', 'DeleteOAuthCredential\0', 'Create\tOAuthCredential'].map((action) => ({
        why: `an owned action with spaces or NUL: ${JSON.stringify(action)}`,
        sent: { body: new URLSearchParams({ ...admin, action }).toString(), contentType: FORM },
        answer: { status: 200, message: 'API Function Not Found' },
      })),
    ]
    for (const { why, sent, answer } of cases) {
      const served = await viaService(test, { ...sent, remoteAddress: '127.0.0.12' })
      t.equal(served.status, answer.status, why)
      t.same(JSON.parse(served.body.toString()), { result: 'error', message: answer.message }, why)
    }
    const agreeing = await viaService(test, { query: 'action=EchoRequest', body: echo(), contentType: FORM, remoteAddress: '127.0.0.12' })
    t.equal(echoed(agreeing.body).query, 'action=EchoRequest', 'the same action in the query and the body is forwarded')
  })

  await t.test('forwarded calls count against the per-address limit', async (t) => {
    const sent = { body: form(upstream, { action: 'GetClients', responsetype: 'json' }), contentType: FORM, remoteAddress: '192.0.2.9' }
    for (let call = 1; call <= 20; call++) {
      const { status } = await viaService(test, sent)
      if (status !== 200) t.fail(`call ${call} answered ${status}`)
    }
    const limited = await viaService(test, sent)
    t.equal(limited.status, 429)
    t.same(JSON.parse(limited.body.toString()), { result: 'error', message: 'Too many requests. Please try again later.' })
  })

  await t.test('an upstream past its timeout answers 504 in the legacy shape', async (t) => {
    const started = Date.now()
    const timedOut = await viaService(test, { body: form(upstream, { action: 'Sleep', ms: '30000', responsetype: 'xml' }), contentType: FORM, remoteAddress: '127.0.0.7' })
    t.equal(timedOut.status, 504)
    t.ok(Date.now() - started < 20_000, 'it did not wait for the upstream')
    t.equal(timedOut.contentType, 'application/xml; charset=utf-8', "in the caller's responsetype")
    t.match(timedOut.body.toString(), `<action>sleep</action><result>error</result><message>The upstream api.php did not answer within ${timeoutMs} ms.</message>`)
  })

  await t.test('past the timeout while the answer streams, the connection is cut', async (t) => {
    await test.app.listen({ port: 0, host: '127.0.0.1' })
    const { port } = test.app.server.address() as AddressInfo
    const started = Date.now()
    const response = await fetch(`http://127.0.0.1:${port}/includes/api.php`, {
      method: 'POST',
      headers: { 'content-type': FORM },
      body: form(upstream, { action: 'SlowBody', ms: '30000' }),
    })
    t.equal(response.status, 200, 'the status was already on its way')
    await t.rejects(response.text(), 'the body never completes')
    t.ok(Date.now() - started < 20_000, 'cut at the timeout, not when the upstream finished')
  })

  await t.test('forwarded calls are logged as such, without secrets', async (t) => {
    await viaService(test, {
      body: form(upstream, { action: 'GetClients', responsetype: 'json' }),
      contentType: FORM,
      query: `password=${encodeURIComponent(upstream.secret)}`,
      remoteAddress: '127.0.0.8',
    })
    const entries = lines.map((line) => JSON.parse(line) as Record<string, unknown>)
    const forwarded = entries.filter((entry) => entry.forwarded === true)
    t.match(forwarded.at(-1), { action: 'GetClients', upstreamStatus: 200, msg: 'forwarded to the upstream api.php' })
    t.match(entries.filter((entry) => entry.msg === 'upstream api.php failed'), [{ action: 'Sleep', forwarded: true }], 'the timeout too')
    t.notMatch(lines.join('\n'), upstream.secret, 'the secret in the body and in the query string is never logged')
  })

  await t.test('an unreachable upstream answers 502 in the legacy shape', async (t) => {
    upstream.stop()
    const unreachable = await viaService(test, { body: 'action=GetClients', contentType: FORM, remoteAddress: '127.0.0.9' })
    t.equal(unreachable.status, 502)
    t.equal(unreachable.body.toString(), 'result=error;message=The upstream api.php could not be reached.', 'NVP when responsetype is left out')
    const json = await viaService(test, { body: 'action=GetClients&responsetype=JSON', contentType: FORM, remoteAddress: '127.0.0.9' })
    t.same(JSON.parse(json.body.toString()), { result: 'error', message: 'The upstream api.php could not be reached.' })
  })
})
