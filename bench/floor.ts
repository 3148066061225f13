import { createHash } from 'node:crypto'
import formbody from '@fastify/formbody'
import Fastify from 'fastify'
import pg from 'pg'

/**
 * The floor: for each benchmarked path, a route that sends the database exactly the
 * statements the service sends for that request (bench/run.ts checks this from PostgreSQL's
 * log) with raw `pg`, and does nothing else: no ORM, no validation, no authentication.
 */
const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: 10 })
const app = Fastify({ logger: false })
await app.register(formbody)

const READ = `
  SELECT c.id, c.client_identifier, c.secret_hash, c.previous_secret_hash, c.previous_secret_expires_at,
    c.name, c.description, c.grant_type::text AS grant_type, c.service_id, c.logo_uri, c.version, c.last_used_at,
    c.created_at, c.updated_at,
    ARRAY(SELECT s.scope_name FROM credential_scope s WHERE s.credential_id = c.id ORDER BY s.position)::text[] AS scopes,
    ARRAY(SELECT r.uri FROM credential_redirect_uri r WHERE r.credential_id = c.id ORDER BY r.position)::text[] AS redirect_uris
  FROM credential c`

/** BEGIN, lock and read, UPDATE, audit INSERT, COMMIT: an update of the name. */
async function updateName(id: number, name: string, actor: string, requestId: string) {
  const client = await pool.connect()
  try {
    await client.query('BEGIN')
    const { rows } = await client.query(`${READ} WHERE c.id = $1 FOR UPDATE OF c`, [id])
    const current = rows[0]
    const updated = await client.query(
      `UPDATE credential SET name = $1, description = $2, grant_type = CAST($3::text AS "GrantType"), service_id = $4,
        logo_uri = $5, version = version + $6, updated_at = $7 WHERE id = $8 RETURNING version, updated_at`,
      [name, current.description, current.grant_type, current.service_id, current.logo_uri, 1, new Date(), id],
    )
    await client.query(
      `INSERT INTO audit_event (credential_id, actor, action, changed_fields, request_id, source, created_at)
        VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id, credential_id, actor, action, changed_fields, request_id, source, created_at`,
      [id, actor, 'update', ['name'], requestId, 'legacy', new Date()],
    )
    await client.query('COMMIT')
    return updated.rows[0]
  } catch (error) {
    await client.query('ROLLBACK')
    throw error
  } finally {
    client.release()
  }
}

app.post('/includes/api.php', async (request) => {
  const body = request.body as Record<string, string>
  await updateName(Number(body.credentialId), String(body.name), String(body.identifier), request.id)
  return { result: 'success', credentialId: String(body.credentialId) }
})

app.patch('/oauth/credentials/:id', async (request) => {
  const { id } = request.params as { id: string }
  const body = request.body as { name: string }
  const updated = await updateName(Number(id), body.name, 'bench', request.id)
  return { id: Number(id), name: body.name, version: updated.version }
})
app.addContentTypeParser('application/merge-patch+json', { parseAs: 'string' }, (_request, body, done) =>
  done(null, JSON.parse(String(body))),
)

app.get('/oauth/credentials/:id', async (request) => {
  const { id } = request.params as { id: string }
  const { rows } = await pool.query(`${READ} WHERE c.id = $1`, [Number(id)])
  return rows[0]
})

app.post('/oauth/credentials/authenticate', async (request, reply) => {
  const body = request.body as { clientIdentifier: string; clientSecret: string }
  const { rows } = await pool.query(`${READ} WHERE c.client_identifier = $1`, [body.clientIdentifier])
  const digest = createHash('sha256').update(body.clientSecret).digest('hex')
  if (rows[0]?.secret_hash !== digest) return reply.code(401).send({ title: 'Unauthorized' })
  // The service answers with the credential, never a secret.
  delete rows[0].secret_hash
  delete rows[0].previous_secret_hash
  return rows[0]
})

const address = await app.listen({ port: Number(process.env.PORT), host: '127.0.0.1' })
process.stdout.write(`floor listening at ${address}\n`)
process.once('SIGTERM', () => void app.close().then(() => pool.end()).then(() => process.exit(0)))
