import t from 'tap'
import { replicaSet, sleep } from '../helpers/replicas.js'

// Each of three replicas is stopped with SIGTERM and started again, in turn, while writers keep
// them busy, as a rolling upgrade does: no request that a running replica received may fail.

const serverUrl = process.env.TEST_DATABASE_URL

t.test('a rolling restart under load fails no request that a running replica received', { skip: !serverUrl && 'needs PostgreSQL: runs with TEST_DATABASE_URL' }, async (t) => {
  const set = await replicaSet(t, 3)
  const running = [...set.replicas]
  let turn = 0
  const restarted = (async () => {
    for (let n = 0; n < running.length; n++) {
      await sleep(500)
      const stopping = running[n]!
      stopping.process.child.kill('SIGTERM')
      t.same(await stopping.process.exited, [0, null], `replica ${n + 1} stops cleanly`)
      running[n] = await set.start()
    }
    await sleep(500)
  })()
  const load = await set.underLoad(() => running[turn++ % running.length]!, restarted)
  t.same(load.failures, [], 'no received request failed')
  t.ok(load.acknowledged.length > 20, `${load.acknowledged.length} writes acknowledged`)
  t.same(await set.missingFromTrail(load.acknowledged), [], 'every acknowledged write is in the audit trail')
})
