import { once } from 'node:events'
import http from 'node:http'
import net from 'node:net'
import { randomBytes } from 'node:crypto'
import pg from 'pg'
import t, { type Test } from 'tap'
import { freshDatabase } from '../helpers/app.js'
import { startServerProcess, type ServerProcess } from '../helpers/server-process.js'

// Three service processes on one PostgreSQL database, as an operator runs them behind a load
// balancer: writes spread over them lose nothing, a change made on one is obeyed by the others
// at once, and losing or restarting a replica costs no acknowledged write and no request that
// a running replica received.

const admin = { identifier: 'replica-admin', secret: randomBytes(32).toString('base64url') }
const authorization = `Basic ${Buffer.from(`${admin.identifier}:${admin.secret}`).toString('base64')}`

interface Answer {
  status: number
  headers: http.IncomingHttpHeaders
  body: Record<string, unknown>
}

/** One request on a connection of its own (no keep-alive), so a stopped replica is seen as refused. */
function call(base: string, method: string, path: string, body?: unknown, headers: http.OutgoingHttpHeaders = {}): Promise<Answer> {
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

interface Replica {
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

/** A replica on a port of its own, ready once /readyz answers. It logs warnings only: nobody reads its stdout. */
async function startReplica(t: Test, databaseUrl: string): Promise<Replica> {
  const base = `http://127.0.0.1:${await freePort()}`
  const process = startServerProcess(t, {
    DATABASE_URL: databaseUrl,
    PORT: new URL(base).port,
    LOG_LEVEL: 'warn',
    CLIENT_IDENTIFIER_PREFIX: 'TEST',
    API_BOOTSTRAP_IDENTIFIER: admin.identifier,
    API_BOOTSTRAP_SECRET: admin.secret,
    // Budgets are not what this test measures.
    RATE_LIMIT_PER_CREDENTIAL: '1000000000',
    RATE_LIMIT_PER_IP: '1000000000',
  })
  for (const deadline = Date.now() + 120_000; Date.now() < deadline; ) {
    if (process.child.exitCode !== null) throw new Error(`a replica exited at start: ${process.stderr()}`)
    if ((await call(base, 'GET', '/readyz').catch(() => undefined))?.status === 200) return { process, base }
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  throw new Error(`a replica did not get ready within 120 s: ${process.stderr()}`)
}

/** Milliseconds from `since` until `check` holds, asked as fast as answers come, for up to 10 s. */
async function msUntil(check: () => Promise<boolean>, since: number): Promise<number | undefined> {
  while (Date.now() - since < 10_000) if (await check()) return Date.now() - since
  return undefined
}

const serverUrl = process.env.TEST_DATABASE_URL

t.test('three replicas on one database', { skip: !serverUrl && 'needs PostgreSQL: runs with TEST_DATABASE_URL' }, async (t) => {
  t.setTimeout(300_000)
  const { database, drop } = await freshDatabase()
  t.teardown(drop)
  const databaseUrl = (database as { url: string }).url
  const replicas = await Promise.all([0, 1, 2].map(() => startReplica(t, databaseUrl)))
  const trail = new pg.Client({ connectionString: databaseUrl })
  await trail.connect()
  t.teardown(() => trail.end())

  const credentialIds: number[] = []
  for (let n = 0; n < 5; n++) {
    const created = await call(replicas[n % 3]!.base, 'POST', '/oauth/credentials', {
      grantType: 'authorization_code',
      name: `Replicated ${n}`,
      scope: 'openid',
    })
    t.equal(created.status, 201)
    credentialIds.push(created.body.credentialId as number)
  }

  /** Every request id of an acknowledged write is in the audit trail. */
  async function missingFromTrail(acknowledged: string[]): Promise<string[]> {
    const { rows } = await trail.query<{ request_id: string }>('SELECT request_id FROM audit_event WHERE request_id = ANY($1)', [acknowledged])
    const recorded = new Set(rows.map((row) => row.request_id))
    return acknowledged.filter((id) => !recorded.has(id))
  }

  let sequence = 0
  /** A PATCH of one of the credentials with a request id of its own; the id when acknowledged. */
  async function update(replica: Replica): Promise<{ requestId: string; answer: Answer }> {
    const requestId = `write-${sequence++}`
    const credentialId = credentialIds[sequence % credentialIds.length]!
    const answer = await call(replica.base, 'PATCH', `/oauth/credentials/${credentialId}`, { description: requestId }, { 'x-request-id': requestId })
    return { requestId, answer }
  }

  await t.test('200 concurrent updates spread over the replicas all succeed and lose nothing', async (t) => {
    const results = await Promise.all(Array.from({ length: 200 }, (_, n) => update(replicas[n % 3]!)))
    const statuses = new Map<number, number>()
    for (const { answer } of results) statuses.set(answer.status, (statuses.get(answer.status) ?? 0) + 1)
    t.same(Object.fromEntries(statuses), { 200: 200 }, 'every writer succeeds')
    t.same(await missingFromTrail(results.map((result) => result.requestId)), [], 'every write is in the audit trail')
    for (const credentialId of credentialIds) {
      const current = await call(replicas[0]!.base, 'GET', `/oauth/credentials/${credentialId}`)
      const { rows } = await trail.query<{ count: string }>('SELECT count(*) FROM audit_event WHERE credential_id = $1', [credentialId])
      t.equal(current.body.version, Number(rows[0]!.count), `credential ${credentialId}: its version counts its audit events`)
    }
  })

  await t.test('a secret rotated on one replica is refused by the other two within 100 ms', async (t) => {
    const created = await call(replicas[0]!.base, 'POST', '/oauth/credentials', { grantType: 'authorization_code', name: 'Rotated', scope: 'openid' })
    const client = { clientIdentifier: created.body.clientIdentifier, clientSecret: created.body.clientSecret }
    const authenticates = async (replica: Replica) => (await call(replica.base, 'POST', '/oauth/credentials/authenticate', client)).status
    t.equal(created.status, 201)
    for (const replica of replicas) t.equal(await authenticates(replica), 200, 'read, and remembered')
    const rotated = await call(replicas[0]!.base, 'POST', `/oauth/credentials/${created.body.credentialId}/secret`, { graceSeconds: 0 })
    t.equal(rotated.status, 200)
    const rotatedAt = Date.now()
    const refusedAfter = await Promise.all(replicas.slice(1).map((replica) => msUntil(async () => (await authenticates(replica)) === 401, rotatedAt)))
    refusedAfter.forEach((ms, n) => t.ok(ms !== undefined && ms < 100, `replica ${n + 2} refuses the old secret after ${ms} ms`))
  })

  /**
   * Keeps `concurrency` writers busy until `until` resolves. Each write goes to the next replica
   * that `pick` offers; a refused connection means no replica received it, so it goes to the
   * next one. Returns the acknowledged request ids and every other outcome.
   */
  async function underLoad(pick: () => Replica, until: Promise<unknown>, concurrency = 8) {
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
          const code = (error as NodeJS.ErrnoException).code
          if (code !== 'ECONNREFUSED') failures.push(`${replica.base}: ${code ?? String(error)}`)
        }
      }
    }
    await Promise.all(Array.from({ length: concurrency }, writer))
    return { acknowledged, failures }
  }
  const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

  await t.test('one replica SIGKILLed under load: the others keep answering, no acknowledged write is lost', async (t) => {
    const [first, second, victim] = replicas as [Replica, Replica, Replica]
    let turn = 0
    const killed = (async () => {
      await sleep(1_000)
      victim.process.child.kill('SIGKILL')
      await victim.process.exited
      await sleep(1_000)
    })()
    // The victim gets every third request until it dies; what it held then was never acknowledged.
    const load = await underLoad(() => [first, second, victim][turn++ % 3]!, killed)
    const survivorsFailed = load.failures.filter((failure) => !failure.startsWith(victim.base))
    t.same(survivorsFailed, [], 'the survivors answer every request')
    t.ok(load.acknowledged.length > 20, `${load.acknowledged.length} writes acknowledged`)
    t.same(await missingFromTrail(load.acknowledged), [], 'every acknowledged write is in the audit trail')
    replicas[2] = await startReplica(t, databaseUrl)
  })

  await t.test('a rolling restart under load fails no request that a running replica received', async (t) => {
    const running = [...replicas]
    let turn = 0
    const restarted = (async () => {
      for (let n = 0; n < running.length; n++) {
        await sleep(500)
        const stopping = running[n]!
        stopping.process.child.kill('SIGTERM')
        t.same(await stopping.process.exited, [0, null], `replica ${n + 1} stops cleanly`)
        running[n] = await startReplica(t, databaseUrl)
      }
      await sleep(500)
    })()
    const load = await underLoad(() => running[turn++ % running.length]!, restarted)
    t.same(load.failures, [], 'no received request failed')
    t.ok(load.acknowledged.length > 20, `${load.acknowledged.length} writes acknowledged`)
    t.same(await missingFromTrail(load.acknowledged), [], 'every acknowledged write is in the audit trail')
  })
})
