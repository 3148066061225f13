import t from 'tap'
import { call, replicaSet, sleep, type Replica } from '../helpers/replicas.js'

// Three service processes on one PostgreSQL database and one Redis: writes spread over them
// lose nothing, a change made on one is obeyed by the others at once, budgets are counted once
// for all, and losing a replica costs no acknowledged write.

/**
 * How long after `since` a request sent could still be accepted: asks `accepted` back to back
 * until it is refused (for up to 10 s), and returns the send time of the last request accepted
 * (0 when none was); undefined when it never got refused.
 */
async function acceptedUntil(accepted: () => Promise<boolean>, since: number): Promise<number | undefined> {
  let last = 0
  while (Date.now() - since < 10_000) {
    const sent = Date.now() - since
    if (!(await accepted())) return last
    last = sent
  }
  return undefined
}

const serverUrl = process.env.TEST_DATABASE_URL

t.test('three replicas on one database', { skip: !serverUrl && 'needs PostgreSQL: runs with TEST_DATABASE_URL' }, async (t) => {
  const set = await replicaSet(t, 3)
  const { replicas } = set

  await t.test('200 concurrent updates spread over the replicas all succeed and lose nothing', async (t) => {
    const results = await Promise.all(Array.from({ length: 200 }, (_, n) => set.update(replicas[n % 3]!)))
    const statuses = new Map<number, number>()
    for (const { answer } of results) statuses.set(answer.status, (statuses.get(answer.status) ?? 0) + 1)
    t.same(Object.fromEntries(statuses), { 200: 200 }, 'every writer succeeds')
    t.same(await set.missingFromTrail(results.map((result) => result.requestId)), [], 'every write is in the audit trail')
    for (const credentialId of set.credentialIds) {
      const current = await call(replicas[0]!.base, 'GET', `/oauth/credentials/${credentialId}`)
      const { rows } = await set.trail.query<{ count: string }>('SELECT count(*) FROM audit_event WHERE credential_id = $1', [credentialId])
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
    const lastAccepted = await Promise.all(replicas.slice(1).map((replica) => acceptedUntil(async () => (await authenticates(replica)) === 200, rotatedAt)))
    lastAccepted.forEach((ms, n) =>
      t.ok(ms !== undefined && ms < 100, `replica ${n + 2}: the old secret was last accepted in a request sent ${ms} ms after the rotation`),
    )
  })

  await t.test('a failure budget of 30 is used up by 30 failures in total, not 30 per replica', async (t) => {
    // Not the admin's identifier: its budget is used up for the rest of the window.
    const wrong = `Basic ${Buffer.from('budget-victim:wrong').toString('base64')}`
    const statuses: number[] = []
    for (let n = 0; n < 30; n++) {
      statuses.push((await call(replicas[n % 3]!.base, 'GET', '/oauth/credentials', undefined, { authorization: wrong })).status)
    }
    t.same([...new Set(statuses)], [401], '30 wrong secrets, spread over three replicas')
    for (const [n, replica] of replicas.entries()) {
      const refused = await call(replica.base, 'GET', '/oauth/credentials', undefined, { authorization: wrong })
      t.equal(refused.status, 429, `replica ${n + 1} refuses the 31st`)
    }
  })

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
    const load = await set.underLoad(() => [first, second, victim][turn++ % 3]!, killed)
    const survivorsFailed = load.failures.filter((failure) => !failure.startsWith(victim.base))
    t.same(survivorsFailed, [], 'the survivors answer every request')
    t.ok(load.acknowledged.length > 20, `${load.acknowledged.length} writes acknowledged`)
    t.same(await set.missingFromTrail(load.acknowledged), [], 'every acknowledged write is in the audit trail')
  })
})
