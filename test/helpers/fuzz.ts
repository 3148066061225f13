/*
 * The endpoint fuzz tests' shared part. One file per endpoint, so that tap runs them side by
 * side: together they were the suite's longest file.
 */
import fc from 'fast-check'
import type { Test } from 'tap'
import { buildTestApp } from './app.js'
import { callLegacy } from './legacy.js'
import { malformedRequest, type FuzzEndpoint } from './malformed-requests.js'

export const RUNS = 2_000
// A fixed seed makes CI reproducible (a failure names its request again on the next run);
// FUZZ_SEED explores other corners.
const SEED = Number(process.env.FUZZ_SEED ?? 20261127)

/** Every table a request could change, as one text: two equal snapshots mean nothing changed. */
const SNAPSHOT_SQL = `SELECT json_build_array(
  (SELECT json_agg(c ORDER BY id) FROM credential c),
  (SELECT json_agg(s ORDER BY credential_id, position) FROM credential_scope s),
  (SELECT json_agg(r ORDER BY credential_id, position) FROM credential_redirect_uri r),
  (SELECT json_agg(a ORDER BY id) FROM audit_event a),
  (SELECT json_agg(k ORDER BY id) FROM api_credential k),
  (SELECT json_agg(n ORDER BY name) FROM scope n)
)::text AS snapshot`

const STACK_TRACE = /\n\s+at |node_modules|\.[cm]?[jt]s:\d+|(Type|Reference|Syntax|Range)Error/

/** A test app with a credential to aim at, and every secret that must never be answered. */
export async function target(t: Test) {
  const test = await buildTestApp(t, {
    // Most of these requests fail: the limits must not be what answers them.
    RATE_LIMIT_FAILED_AUTH_PER_IP: '1000000',
    RATE_LIMIT_FAILED_AUTH_PER_IDENTIFIER: '1000000',
    RATE_LIMIT_FAILED_CLIENT_AUTH_PER_IP: '1000000',
    RATE_LIMIT_FAILED_CLIENT_AUTH_PER_CLIENT: '1000000',
    RATE_LIMIT_PER_IP: '1000000',
    RATE_LIMIT_PER_CREDENTIAL: '1000000',
  })
  const created = await callLegacy(test, {
    action: 'CreateOAuthCredential',
    grantType: 'authorization_code',
    name: 'Target',
    scope: 'openid email',
    redirectUri: ['https://app.example.com/cb'],
    responsetype: 'json',
  })
  const hashes = await test.sql<{ secret_hash: string }>(
    'SELECT secret_hash FROM credential UNION ALL SELECT secret_hash FROM api_credential',
  )
  const secrets = [test.admin.secret, created.data.clientSecret as string, ...hashes.map((row) => row.secret_hash)]
  t.equal(secrets.length, 4)
  return { test, credentialId: String(created.data.credentialId), secrets }
}

/**
 * Sends RUNS malformed variants of `endpoint`'s request and holds every answer to the same
 * promises: no 5xx, no stack trace, no secret, no prototype pollution, and a refused request
 * leaves every table as it was.
 */
export async function fuzz(
  t: Test,
  { test, secrets }: Awaited<ReturnType<typeof target>>,
  endpoint: FuzzEndpoint,
  succeeded: (status: number, body: string) => boolean,
) {
  // Straight to the driver (Prisma's runtime cost more than the query). Every write takes a
  // transaction id: while the next one to be given (the snapshot's xmax) is the same, nothing
  // was written and the tables are as last read, so they are read again only when it moved.
  const { database } = test.app
  const query = <R>(text: string) => database.exclusive(() => database.query<R>(text, []))
  let last: { xmax: string; snapshot: string | undefined } | undefined
  const snapshot = async () => {
    const [{ xmax } = { xmax: '' }] = await query<{ xmax: string }>('SELECT pg_snapshot_xmax(pg_current_snapshot())::text AS xmax')
    if (last?.xmax !== xmax) last = { xmax, snapshot: (await query<{ snapshot: string }>(SNAPSHOT_SQL))[0]?.snapshot }
    return last.snapshot
  }
  let baseline = await snapshot()
  const statuses = new Map<number, number>()

  await fc.assert(
    fc.asyncProperty(malformedRequest(endpoint), async (request) => {
      const response = await test.app.inject({
        method: request.method,
        url: request.url,
        headers: request.headers,
        payload: request.payload,
      })
      statuses.set(response.statusCode, (statuses.get(response.statusCode) ?? 0) + 1)
      const seen = `${JSON.stringify(response.headers)}\n${response.body}`
      if (response.statusCode >= 500) throw new Error(`${response.statusCode} ${response.body}`)
      if (STACK_TRACE.test(response.body)) throw new Error(`a stack trace or internal detail: ${response.body}`)
      for (const secret of secrets) if (seen.includes(secret)) throw new Error(`a secret in the answer: ${response.body}`)
      if (Object.prototype.hasOwnProperty.call(Object.prototype, 'polluted')) throw new Error('Object.prototype was polluted')
      const now = await snapshot()
      if (succeeded(response.statusCode, response.body)) baseline = now
      else if (now !== baseline) throw new Error(`a refused request changed the database: ${response.body}`)
    }),
    { numRuns: RUNS, seed: SEED },
  )

  t.comment(`statuses: ${[...statuses].sort().map(([status, n]) => `${status}×${n}`).join(', ')}`)
  t.ok((statuses.get(200) ?? 0) > 0 && [...statuses.keys()].some((status) => status >= 400), 'both answers and refusals were seen')
  const alive = await callLegacy(test, { action: 'ListOAuthCredentials', responsetype: 'json' })
  t.equal(alive.data.result, 'success', 'the service still answers normally')
}
