import { randomBytes } from 'node:crypto'
import { once } from 'node:events'
import http from 'node:http'
import net from 'node:net'
import pg from 'pg'
import type { Test } from 'tap'
import { freshDatabase } from './app.js'
import { startServerProcess, type ServerProcess } from './server-process.js'

// Service processes on one PostgreSQL database, as an operator runs them behind a load
// balancer, for the tests in test/scale/.

export const admin = { identifier: 'replica-admin', secret: randomBytes(32).toString('base64url') }
const authorization = `Basic ${Buffer.from(`${admin.identifier}:${admin.secret}`).toString('base64')}`

export interface Answer {
  status: number
  headers: http.IncomingHttpHeaders
  body: Record<string, unknown>
}

/** One request on a connection of its own (no keep-alive), so a stopped replica is seen as refused. */
export function call(base: string, method: string, path: string, body?: unknown, headers: http.OutgoingHttpHeaders = {}): Promise<Answer> {
  const payload = body === undefined ? undefined : JSON.stringify(body)
  return new Promise((resolve, reject) => {
    const request = http.request(
      `${base}${path}`,
      {
        method,
        agent: false,
        headers: { authorization, ...(payload ? { 'content-type': 'application/json' } : {}), ...headers },
      },
      (response) => {
        let text = ''
        response.setEncoding('utf8')
        response.on('data', (chunk: string) => (text += chunk))
        response.on('end', () => resolve({ status: response.statusCode ?? 0, headers: response.headers, body: text ? JSON.parse(text) : {} }))
        response.on('error', reject)
      },
    )
    request.on('error', reject)
    request.end(payload)
  })
}

export interface Replica {
  process: ServerProcess
  base: string
}

async function freePort(): Promise<number> {
  const server = net.createServer().listen(0, '127.0.0.1')
  await once(server, 'listening')
  const { port } = server.address() as net.AddressInfo
  server.close()
  await once(server, 'close')
  return port
}

/** Replicas on one fresh database, counting their budgets in one Redis; writers and checks for them. */
export async function replicaSet(t: Test, count: number) {
  const { database, drop } = await freshDatabase()
  t.teardown(drop)
  const databaseUrl = (database as { url: string }).url
  const redisKeyPrefix = `replicas-${randomBytes(6).toString('hex')}:`

  /** A replica on a port of its own, ready once /readyz answers. It logs warnings only: nobody reads its stdout. */
  async function start(): Promise<Replica> {
    const base = `http://127.0.0.1:${await freePort()}`
    const process = startServerProcess(t, {
      DATABASE_URL: databaseUrl,
      PORT: new URL(base).port,
      LOG_LEVEL: 'warn',
      CLIENT_IDENTIFIER_PREFIX: 'TEST',
      API_BOOTSTRAP_IDENTIFIER: admin.identifier,
      API_BOOTSTRAP_SECRET: admin.secret,
      // One Redis counts every replica's budgets; the request budgets are not what is measured.
      REDIS_URL: 'redis://127.0.0.1:6379',
      REDIS_KEY_PREFIX: redisKeyPrefix,
      RATE_LIMIT_PER_CREDENTIAL: '1000000000',
      RATE_LIMIT_PER_IP: '1000000000',
      RATE_LIMIT_FAILED_AUTH_PER_IP: '1000000000',
      RATE_LIMIT_FAILED_AUTH_PER_IDENTIFIER: '30',
    })
    for (const deadline = Date.now() + 60_000; Date.now() < deadline; ) {
      if (process.child.exitCode !== null) throw new Error(`a replica exited at start: ${process.stderr()}`)
      if ((await call(base, 'GET', '/readyz').catch(() => undefined))?.status === 200) return { process, base }
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
    throw new Error(`a replica did not get ready within 60 s: ${process.stderr()}`)
  }

  const replicas = await Promise.all(Array.from({ length: count }, start))
  const trail = new pg.Client({ connectionString: databaseUrl })
  await trail.connect()
  t.teardown(() => trail.end())

  const credentialIds: number[] = []
  for (let n = 0; n < 5; n++) {
    const created = await call(replicas[n % count]!.base, 'POST', '/oauth/credentials', {
      grantType: 'authorization_code',
      name: `Replicated ${n}`,
      scope: 'openid',
    })
    if (created.status !== 201) throw new Error(`create: ${created.status}`)
    credentialIds.push(created.body.credentialId as number)
  }

  let sequence = 0
  /** A PATCH of one of the credentials, with a request id of its own to find it in the trail. */
  async function update(replica: Replica): Promise<{ requestId: string; answer: Answer }> {
    const requestId = `write-${sequence++}`
    const credentialId = credentialIds[sequence % credentialIds.length]!
    const answer = await call(replica.base, 'PATCH', `/oauth/credentials/${credentialId}`, { description: requestId }, { 'x-request-id': requestId })
    return { requestId, answer }
  }

  return {
    replicas,
    start,
    trail,
    credentialIds,
    update,

    /** The request ids of acknowledged writes that are not in the audit trail. */
    async missingFromTrail(acknowledged: string[]): Promise<string[]> {
      const { rows } = await trail.query<{ request_id: string }>('SELECT request_id FROM audit_event WHERE request_id = ANY($1)', [acknowledged])
      const recorded = new Set(rows.map((row) => row.request_id))
      return acknowledged.filter((id) => !recorded.has(id))
    },

    /**
     * Keeps `concurrency` writers busy until `until` resolves. Each write goes to the replica
     * that `pick` offers; a connection refused, or reset before any answer, means no replica
     * received it (a load balancer tries the next). Returns the acknowledged request ids and
     * every other outcome.
     */
    async underLoad(pick: () => Replica, until: Promise<unknown>, concurrency = 8) {
      let done = false
      void until.then(() => (done = true))
      const acknowledged: string[] = []
      const failures: string[] = []
      const writer = async () => {
        while (!done) {
          const replica = pick()
          try {
            const { requestId, answer } = await update(replica)
            if (answer.status === 200) acknowledged.push(requestId)
            else failures.push(`${replica.base}: ${answer.status} ${JSON.stringify(answer.body)}`)
          } catch (error) {
            // Never received: refused, or reset while still in the kernel's queue of a listener
            // that closed (a process that accepted a connection serves its request; see
            // return503OnClosing in src/app.ts). No answer byte came back in either case.
            const code = (error as NodeJS.ErrnoException).code
            if (code !== 'ECONNREFUSED' && code !== 'ECONNRESET') failures.push(`${replica.base}: ${code ?? String(error)}`)
          }
        }
      }
      await Promise.all(Array.from({ length: concurrency }, writer))
      return { acknowledged, failures }
    },
  }
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))
