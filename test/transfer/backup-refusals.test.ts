import pg from 'pg'
import t from 'tap'
import { MAX_LINE_BYTES } from '../../src/transfer/jsonl.js'
import { buildTestApp, freshDatabase } from '../helpers/app.js'
import { cli } from '../helpers/cli.js'
import { callRest } from '../helpers/rest.js'

/* What `import` refuses, on PostgreSQL whatever TEST_DATABASE_URL says: nothing is written. */

t.test('a conflict is reported and nothing is written; a malformed backup names its line', async (t) => {
  const source = await freshDatabase({ on: 'postgresql' })
  const a = await buildTestApp(t, {}, source)
  const made = await callRest(a, { method: 'POST', url: '/oauth/credentials', body: { grantType: 'single_sign_on', serviceId: 7, scope: 'openid' } })
  const backup = (await cli({ database: source.database }, ['export'])).stdout

  const target = await freshDatabase({ on: 'postgresql' })
  t.teardown(target.drop)
  t.equal((await cli({ database: target.database }, ['import'], backup)).code, 0)
  const url = (target.database as { url: string }).url
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  t.teardown(() => client.end())
  await client.query("UPDATE credential SET name = 'changed since', updated_at = now() WHERE id = $1", [made.body.credentialId])
  await client.query("UPDATE api_credential SET description = 'changed too' WHERE identifier = 'test-admin'")
  const before = (await cli({ database: target.database }, ['export', '--with-events'])).stdout.split('\n').slice(1)

  const refused = await cli({ database: target.database }, ['import'], backup)
  t.equal(refused.code, 1)
  t.equal(refused.stdout, '')
  t.equal(
    refused.stderr,
    'Credentials: 0 to create, 0 unchanged\nAPI credentials: 0 to create, 0 unchanged\nEvents: 0 to create, 0 unchanged\n' +
      `Conflicts (2):\n  credential ${made.body.credentialId} (line 2): ${made.body.clientIdentifier} is stored with other name, updatedAt\n` +
      '  API credential test-admin (line 3): stored with other description\nRefused: nothing was written.\n',
  )
  t.same((await cli({ database: target.database }, ['export', '--with-events'])).stdout.split('\n').slice(1), before, 'nothing written')

  const cut = backup.split('\n').slice(0, -2).join('\n')
  const cases: [string | Buffer, string][] = [
    [cut, 'Not imported: the backup has no end line: it was cut short, nothing was imported\n'],
    [backup.replace('"type":"credential"', '"type":"credential'), 'Not imported: line 2: not JSON\n'],
    [backup.replace('"grantType":"single_sign_on"', '"grantType":7'), 'Not imported: line 2: credential record: grantType: Expected string\n'],
    [backup.replace('"version":1', '"version":2'), 'Not imported: line 1: backup format version 2; this service reads version 1\n'],
    ['{"hello":"world"}\n', 'Not imported: line 1: unknown record type null\n'],
    ['', 'Not imported: empty input: no backup given\n'],
    [`${backup}${'x'.repeat(MAX_LINE_BYTES + 1)}`, `Not imported: line 5: longer than ${MAX_LINE_BYTES} bytes\n`],
    [Buffer.concat([Buffer.from(backup), Buffer.from([0xff, 0x0a])]), 'Not imported: line 5: not UTF-8 text\n'],
  ]
  for (const [input, message] of cases) {
    const result = await cli({ database: target.database }, ['import'], input)
    t.equal(result.code, 1)
    t.equal(result.stderr, message)
  }
  const banner = `\n> oauth-credential-service@0.1.0 cli\n> npm run build --silent && node dist/src/cli/index.js export\n\n${backup}`
  t.match((await cli({ database: target.database }, ['import', '--dry-run'], banner)).stderr, /Conflicts \(2\)/, "npm run's banner before the backup is skipped")
  t.equal((await cli({ database: target.database }, ['import'])).stderr, 'Give the backup on standard input: npm run cli -- import < backup.jsonl\n')
})
