import t from 'tap'
import { describePlan, planImport } from '../../src/transfer/plan.js'
import type { ApiCredentialRecord, CredentialRecord, EventRecord } from '../../src/transfer/records.js'

// A backup is data from outside: what it names must obey the rules the service holds its own
// names to, and a report must never hand the operator's terminal a raw control sequence.
const HASH = 'a'.repeat(64)
const at = new Date('2026-12-01T00:00:00Z')
const credential = (credentialId: number, clientIdentifier: string): CredentialRecord => ({
  credentialId,
  clientIdentifier,
  secretHash: HASH,
  name: 'Imported',
  description: '',
  grantType: 'single_sign_on',
  scopes: ['openid'],
  serviceId: 1,
  logoUri: null,
  redirectUris: [],
  createdAt: at,
  updatedAt: at,
})
const apiCredential = (identifier: string): ApiCredentialRecord => ({
  identifier,
  secretHash: HASH,
  description: '',
  permissions: ['*'],
  allowedIps: [],
  revokedAt: null,
  createdAt: at,
})
const event = (id: number, credentialId: number): EventRecord => ({
  id,
  credentialId,
  actor: 'rest-admin',
  action: 'update',
  changedFields: ['name'],
  requestId: null,
  source: 'rest',
  createdAt: at,
})
const plan = (records: { credentials?: CredentialRecord[]; apiCredentials?: ApiCredentialRecord[]; events?: EventRecord[] }) =>
  planImport(
    { credentials: [], apiCredentials: [], events: [], ...records },
    { credentials: [], apiCredentials: [], events: [], catalogue: new Set(['openid']) },
    { whenChanged: 'conflict' },
  )

t.test('API identifiers follow the rule every other way of making one does', async (t) => {
  for (const identifier of ['\u0430dmin', 'ad:min', 'adm\u001b[31mRED\u001b[0m\nInjected line: Imported.', 'x'.repeat(129)]) {
    const refused = plan({ apiCredentials: [apiCredential(identifier)] })
    t.equal(refused.conflicts.length, 1, JSON.stringify(identifier.slice(0, 20)))
    t.match(refused.conflicts[0], /: the identifier must be 3 to 128 of A-Z a-z 0-9 \. _ -$/)
  }
  t.same(plan({ apiCredentials: [apiCredential('billing-ops')] }).conflicts, [], 'a good one passes')
})

t.test('client identifiers are visible ASCII; a report shows control characters as escapes', async (t) => {
  const forged = 'OAUTH.\u001b]0;pwned\u0007\nfake: Imported.'
  const refused = plan({ credentials: [credential(5, forged), credential(6, 'OAUTH.caf\u00e9')] })
  t.same(refused.conflicts.map((line) => line.replace(/^credential \d+: /, '')), [
    'the client identifier must be 1 to 128 visible ASCII characters',
    'the client identifier must be 1 to 128 visible ASCII characters',
  ])
  const report = describePlan(plan({ apiCredentials: [apiCredential('adm\u001b[31m\nx')] }), 'refused', 'backup')
  t.notOk([...report].some((character) => character !== '\n' && /\p{Cc}/u.test(character)), 'no raw control character in the report')
  t.match(report, /API credential adm\\u001b\[31m\\u000ax/)
  t.same(plan({ credentials: [credential(7, 'WHMCS.3q2+7w8K1m9vX0aB4cD5eQ==')] }).conflicts, [], "the original's form passes")
})

t.test('events: ids that leave the ones written after exact in JSON, and a credential id that can be one', async (t) => {
  const refused = plan({ events: [event(2 ** 52 + 1, 1), event(Number.MAX_SAFE_INTEGER, 1), event(3, -5), event(4, 2 ** 31)] })
  t.same(refused.conflicts.map((line) => line.replace(/^event \d+: /, '')), [
    `the id must be a whole number from 1 to ${2 ** 52}, once in the import`,
    `the id must be a whole number from 1 to ${2 ** 52}, once in the import`,
    'the credential id must be a whole number from 1 to 2147483647',
    'the credential id must be a whole number from 1 to 2147483647',
  ])
  t.same(plan({ events: [event(3_000_000_000, 1)] }).conflicts, [], 'an id past 2^31 is fine: the column is bigint')
})
