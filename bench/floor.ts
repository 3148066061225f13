import { hash } from 'node:crypto'
import formbody from '@fastify/formbody'
import Fastify from 'fastify'
import pg from 'pg'
import { READ_BY_CLIENT_IDENTIFIER, READ_BY_ID, WRITE } from '../src/credentials/storage.js'
import { valuesOf } from '../src/db/sql.js'

/**
 * The floor: for each benchmarked path, a route that sends the database exactly the
 * statements the service sends for that request (the same strings, prepared by name as the
 * service does; bench/run.ts checks PostgreSQL's log) with raw `pg`, and does nothing else: no ORM, no validation, no
 * authentication, no logging.
 */
const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: 10 })
const app = Fastify({ logger: false })
await app.register(formbody)

/** Read, then write the name if the version read still holds: the service's two statements. */
async function updateName(id: number, name: string, actor: string, source: string, requestId: string) {
  const { rows } = await pool.query({ name: 'read_by_id', text: READ_BY_ID.text, values: [id] })
  const current = rows[0]
  const written = await pool.query({
    name: 'write',
    text: WRITE.text,
    values: valuesOf(WRITE, {
      ...current,
      readVersion: current.version,
      name,
      scopes: null,
      redirectUris: null,
      action: 'update',
      changedFields: ['name'],
      actor,
      source,
      requestId,
      at: new Date(),
    }),
  })
  return written.rows[0]
}

app.post('/includes/api.php', async (request) => {
  const body = request.body as Record<string, string>
  await updateName(Number(body.credentialId), String(body.name), String(body.identifier), 'legacy', request.id)
  return { result: 'success', credentialId: String(body.credentialId) }
})

app.patch('/oauth/credentials/:id', async (request) => {
  const { id } = request.params as { id: string }
  const body = request.body as { name: string }
  const updated = await updateName(Number(id), body.name, 'bench', 'rest', request.id)
  return { id: Number(id), name: body.name, version: updated.version }
})
app.addContentTypeParser('application/merge-patch+json', { parseAs: 'string' }, (_request, body, done) =>
  done(null, JSON.parse(String(body))),
)

app.get('/oauth/credentials/:id', async (request) => {
  const { id } = request.params as { id: string }
  const { rows } = await pool.query({ name: 'read_by_id', text: READ_BY_ID.text, values: [Number(id)] })
  return rows[0]
})

/** Like the service, the floor reads a client's credential once and answers from memory after. */
const remembered = new Map<string, Record<string, unknown>>()
app.post('/oauth/credentials/authenticate', async (request, reply) => {
  const body = request.body as { clientIdentifier: string; clientSecret: string }
  let row = remembered.get(body.clientIdentifier)
  if (row === undefined) {
    const { rows } = await pool.query({ name: 'read_by_client', text: READ_BY_CLIENT_IDENTIFIER.text, values: [body.clientIdentifier] })
    row = rows[0]
    if (row) remembered.set(body.clientIdentifier, row)
  }
  if (row?.secretHash !== hash('sha256', body.clientSecret, 'hex')) return reply.code(401).send({ title: 'Unauthorized' })
  // The service answers with the credential, never a secret.
  return { ...row, secretHash: undefined, previousSecretHash: undefined }
})

const address = await app.listen({ port: Number(process.env.PORT), host: '127.0.0.1' })
process.stdout.write(`floor listening at ${address}\n`)
process.once('SIGTERM', () => void app.close().then(() => pool.end()).then(() => process.exit(0)))
