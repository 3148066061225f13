import { randomBytes } from 'node:crypto'
import pg from 'pg'
import { CONSISTENCY_SQL, inconsistencies, type CredentialTrail } from './consistency.js'
import { scratchDatabase, serviceEnv, Target } from './target.js'

/**
 * `npm run bench:crash`: the built service on a fresh PostgreSQL database takes a burst of
 * concurrent updates and is killed with SIGKILL in the middle of it. After a restart every
 * credential must agree with its audit trail, and every update that was acknowledged must be
 * in it. Exits 1 when not.
 */
const CREDENTIALS = 20
const WORKERS = 40
const KILL_AFTER_MS = Number(process.env.CRASH_AFTER_MS ?? 1500)
const API = { identifier: 'crash', secret: randomBytes(32).toString('base64') }

async function call(target: Target, fields: Record<string, string>, requestId?: string) {
  const response = await fetch(`${target.base}/includes/api.php`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...(requestId && { 'x-request-id': requestId }) },
    body: new URLSearchParams({ identifier: API.identifier, secret: API.secret, responsetype: 'json', ...fields }),
  })
  return (await response.json()) as Record<string, string>
}

async function main() {
  const scratch = await scratchDatabase('crash')
  const env = serviceEnv(scratch.url, API, 'warn')
  let service = await Target.start('service', 'dist/src/server.js', env)
  const client = new pg.Client({ connectionString: scratch.url })
  try {
    const ids: string[] = []
    for (let n = 0; n < CREDENTIALS; n++) {
      const created = await call(service, {
        action: 'CreateOAuthCredential',
        grantType: 'authorization_code',
        name: `crash ${n}`,
        scope: 'openid',
      })
      ids.push(created.credentialId as string)
    }

    // Updates that touch columns, scopes and redirect URIs (several statements each), or reset the secret.
    const acknowledged: string[] = []
    let sent = 0
    let failed = 0
    let killed = false
    const worker = async (w: number) => {
      for (let n = 0; !killed; n++) {
        const requestId = `crash-${w}-${n}`
        const id = ids[(w * 7 + n) % ids.length] as string
        const variant = n % 3
        const fields: Record<string, string> = { action: 'UpdateOAuthCredential', credentialId: id, name: `w${w} n${n}` }
        if (variant === 1) Object.assign(fields, { scope: n % 2 ? 'openid email' : 'openid profile', 'redirectUri[0]': `https://w${w}.example.com/${n}` })
        if (variant === 2) fields.resetSecret = '1'
        sent++
        try {
          const answer = await call(service, fields, requestId)
          if (answer.result === 'success') acknowledged.push(requestId)
        } catch {
          failed++
        }
      }
    }
    const workers = Array.from({ length: WORKERS }, (_, w) => worker(w))
    await new Promise((resolve) => setTimeout(resolve, KILL_AFTER_MS))
    killed = true // no new requests; those in flight are cut off by the kill
    await service.kill()
    await Promise.all(workers)
    console.log(`sent ${sent} updates with ${WORKERS} concurrent clients; SIGKILL after ${KILL_AFTER_MS} ms: ` +
      `${acknowledged.length} acknowledged, ${failed} cut off without an answer`)

    service = await Target.start('service', 'dist/src/server.js', env)
    await client.connect()
    const trails = (await client.query<CredentialTrail>(CONSISTENCY_SQL)).rows
    const recorded = new Set(
      (await client.query<{ request_id: string }>("SELECT request_id FROM audit_event WHERE request_id LIKE 'crash-%'")).rows.map(
        (row) => row.request_id,
      ),
    )
    const lost = acknowledged.filter((requestId) => !recorded.has(requestId))
    const problems = [...inconsistencies(trails), ...lost.map((requestId) => `acknowledged ${requestId} is not in the audit trail`)]
    const versions = trails.map((row) => row.version)
    console.log(`after restart: ${trails.length} credentials, versions ${Math.min(...versions)}..${Math.max(...versions)}, ` +
      `${recorded.size} update events (${recorded.size - acknowledged.length} committed but not acknowledged before the kill)`)
    const after = await call(service, { action: 'UpdateOAuthCredential', credentialId: ids[0] as string, name: 'after restart' })
    console.log(`an update after the restart: ${JSON.stringify(after)}`)
    if (problems.length > 0) {
      console.log(`INCONSISTENT:\n  ${problems.join('\n  ')}`)
      process.exitCode = 1
    } else {
      console.log('consistent: every credential\'s version matches its audit events, every acknowledged update is recorded')
    }
  } finally {
    await client.end().catch(() => {})
    await service.stop()
    await scratch.drop()
  }
}

await main()
