import t from 'tap'
import { buildTestApp } from '../helpers/app.js'
import { callLegacy, createCredential, storedCredential } from '../helpers/legacy.js'

// Issue 10, points 3 and 5: api.php reads numbers as PHP 8's (int) does (the expected values
// below were printed by `php -r 'var_export((int)$value);'` with PHP 8.2), and no parameter
// reaches Object.prototype.
const test = await buildTestApp(t)
const call = (form: Record<string, unknown>) => callLegacy(test, { responsetype: 'json', ...form })

const PHP_INT_CASTS: [string, number][] = [
  ['1e3', 1000], ['1.9e3', 1900], ['1E2', 100], ['1e+2', 100], ['10', 10], ['010', 10], ['+10', 10],
  [' 12', 12], [' 12 ', 12], ['\t12\n', 12], ['\v5', 5], ['\f5', 5], ['12abc', 12], ['12 abc', 12],
  ['1e', 1], ['3.', 3], ['  +3.7', 3], ['.5e1', 5], ['+.5e1', 5], ['1_000', 1],
  ['0x1A', 0], ['0b11', 0], ['.5', 0], ['1e-3', 0], ['abc', 0], ['', 0], ['1e400', 0], ['Infinity', 0],
  ['NAN', 0], ['+-1', 0], ['- 1', 0], ['\u00a012', 0], ['\u0663', 0], ['\uff11', 0],
]

t.test('serviceId is read with PHP 8\'s (int): 0 clears it', async (t) => {
  const credential = await createCredential(test)
  for (const [sent, php] of PHP_INT_CASTS) {
    const answer = await call({ action: 'UpdateOAuthCredential', credentialId: credential.credentialId, serviceId: sent })
    t.equal(answer.data.result, 'success', JSON.stringify(sent))
    t.equal((await storedCredential(test, credential.credentialId)).row?.service_id, php === 0 ? null : php, `${JSON.stringify(sent)} is ${php}`)
  }
  for (const sent of ['2147483648', '1e10', '9999999999999999999']) {
    const answer = await call({ action: 'UpdateOAuthCredential', credentialId: credential.credentialId, serviceId: sent })
    t.equal(answer.data.result, 'error', `${sent}: past any service id`)
    t.match(answer.data.message, /^The requested service ID "\d+" is invalid\.$/)
  }
})

t.test('credentialId: "2e0" names credential 2, text that PHP reads as 0 or past int4 names none', async (t) => {
  const first = await createCredential(test)
  const second = await createCredential(test)
  for (const sent of ['0.5', '0x2', '1e-1', '1e400', '2147483648', '9999999999999999999', '-2', 'two']) {
    const answer = await call({ action: 'DeleteOAuthCredential', credentialId: sent })
    t.same(answer.data, { result: 'error', message: 'Invalid Credential ID provided.' }, JSON.stringify(sent))
  }
  t.ok((await storedCredential(test, first.credentialId)).row, 'nothing deleted')
  const exponent = `${second.credentialId / 10}e1`
  const deleted = await call({ action: 'DeleteOAuthCredential', credentialId: exponent })
  t.same(deleted.data, { result: 'success', credentialId: String(second.credentialId) }, exponent)
  t.notOk((await storedCredential(test, second.credentialId)).row)
  const update = await call({ action: 'UpdateOAuthCredential', credentialId: `${first.credentialId}.9e0`, name: 'By float' })
  t.same(update.data, { result: 'success', credentialId: String(first.credentialId) }, 'truncated, as (int) does')
})

t.test('limit reads "1e1" as 10', async (t) => {
  while (((await call({ action: 'ListOAuthCredentials' })).data.clients as unknown[]).length < 11) await createCredential(test)
  const listed = await call({ action: 'ListOAuthCredentials', limit: '1e1' })
  t.equal((listed.data.clients as unknown[]).length, 10)
})

t.test('sortField and sortOrder names of Object.prototype are unknown words, not a 500', async (t) => {
  for (const word of ['__proto__', 'constructor', 'toString', 'hasOwnProperty', 'valueOf', '__defineGetter__']) {
    const field = await call({ action: 'ListOAuthCredentials', sortField: word })
    t.same([field.status, field.data], [200, { result: 'error', message: `The requested sort field "${word}" is invalid.` }], word)
    const order = await call({ action: 'ListOAuthCredentials', sortOrder: word })
    t.same([order.status, order.data], [200, { result: 'error', message: `The requested sort order "${word}" is invalid.` }], word)
    const json = await callLegacy(test, { action: 'ListOAuthCredentials', sortField: word, responsetype: 'json' }, { encoding: 'json' })
    t.equal(json.status, 200, `${word} in a JSON body`)
  }
})
