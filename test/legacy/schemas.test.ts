import t from 'tap'
import { LEGACY_ACTIONS } from '../../src/legacy/actions.js'
import { buildTestApp } from '../helpers/app.js'
import { callLegacy, createCredential } from '../helpers/legacy.js'

// Each action's parameters are read by the schemas the OpenAPI document shows: the closed sets
// are taken from those schema objects here, so a word added to (or dropped from) a schema is
// accepted (or refused) on the wire without another line of code.
const test = await buildTestApp(t)
const credential = await createCredential(test, { name: 'Schemas' })
const list = { action: 'ListOAuthCredentials', responsetype: 'json' }
const update = { action: 'UpdateOAuthCredential', credentialId: credential.credentialId, responsetype: 'json' }
const error = (message: string) => ({ result: 'error', message })

function schemaOf(action: string, parameter: string) {
  const schema = LEGACY_ACTIONS.find((candidate) => candidate.name === action)?.request.properties[parameter]
  if (schema === undefined) throw new Error(`${action} has no parameter ${parameter}`)
  return schema
}

/** The words a parameter's schema admits: the enum of its string member. */
function wordsOf(action: string, parameter: string): string[] {
  const members = (schemaOf(action, parameter).anyOf ?? []) as { enum?: unknown[] }[]
  const words = members.find((member) => member.enum?.every((word) => typeof word === 'string'))?.enum
  if (words === undefined) throw new Error(`${action} ${parameter} lists no words`)
  return words as string[]
}

/** Words that are not in `words`, in any case. */
function outside(words: string[], candidates: string[]): string[] {
  const known = new Set(words.map((word) => word.toLowerCase()))
  return candidates.filter((candidate) => !known.has(candidate.toLowerCase()))
}

t.test('ListOAuthCredentials takes every sortField and sortOrder its schema lists, in any case, and no other', async (t) => {
  const fields = wordsOf('ListOAuthCredentials', 'sortField')
  t.ok(fields.includes('credentialId') && fields.includes('created_at'), 'camelCase and snake_case spellings')
  for (const sortField of fields.flatMap((word) => [word, word.toUpperCase()])) {
    const answer = await callLegacy(test, { ...list, sortField })
    t.same([answer.status, answer.data.result], [200, 'success'], `sortField=${sortField}`)
  }
  const refused = outside(fields, ['secret_hash', 'names', 'created-at', 'credential_id ', 'scope'])
  t.equal(refused.length, 5, 'none of these is in the schema')
  for (const sortField of refused) {
    const answer = await callLegacy(test, { ...list, sortField })
    t.same([answer.status, answer.data], [200, error(`The requested sort field "${sortField}" is invalid.`)])
  }

  const orders = wordsOf('ListOAuthCredentials', 'sortOrder')
  for (const sortOrder of orders.flatMap((word) => [word, word.toLowerCase()])) {
    const answer = await callLegacy(test, { ...list, sortOrder })
    t.same([answer.status, answer.data.result], [200, 'success'], `sortOrder=${sortOrder}`)
  }
  for (const sortOrder of outside(orders, ['ascending', 'up', ' asc'])) {
    t.same((await callLegacy(test, { ...list, sortOrder })).data, error(`The requested sort order "${sortOrder}" is invalid.`))
  }

  const grantTypes = wordsOf('ListOAuthCredentials', 'grantType')
  for (const grantType of grantTypes) {
    t.equal((await callLegacy(test, { ...list, grantType })).data.result, 'success', `grantType=${grantType}`)
  }
  const otherTypes = ['implicit', 'AUTHORIZATION_CODE', ' single_sign_on'].filter((type) => !grantTypes.includes(type))
  t.equal(otherTypes.length, 3, 'grant types are compared exactly')
  for (const grantType of otherTypes) {
    t.same((await callLegacy(test, { ...list, grantType })).data, error(`The requested grant type "${grantType}" is invalid.`))
  }
})

t.test('UpdateOAuthCredential takes every resetSecret word its schema lists, in any case with spaces around, and no other', async (t) => {
  const words = wordsOf('UpdateOAuthCredential', 'resetSecret')
  const resetting = new Set(['1', 'true', 'on', 'yes'])
  t.same(words.filter((word) => resetting.has(word)).sort(), [...resetting].sort(), 'SPEC §3: the words that reset')
  for (const word of words.flatMap((word) => [word, ` ${word.toUpperCase()} `])) {
    const answer = await callLegacy(test, { ...update, resetSecret: word })
    t.equal(answer.data.result, 'success', `resetSecret=${JSON.stringify(word)}`)
    t.equal('newClientSecret' in answer.data, resetting.has(word.trim().toLowerCase()), `resetSecret=${JSON.stringify(word)} resets or not`)
  }
  for (const word of outside(words, ['y', 'nope', '2', 'truE!'])) {
    const answer = await callLegacy(test, { ...update, resetSecret: word })
    t.same(answer.data, error(`The resetSecret value "${word}" is invalid: use 1 or 0.`))
  }
})

t.test('xml and nvp answer the same refusal', async (t) => {
  const sortOrder = 'sideways'
  t.same(outside(wordsOf('ListOAuthCredentials', 'sortOrder'), [sortOrder]), [sortOrder])
  const message = `The requested sort order "${sortOrder}" is invalid.`
  const xml = await callLegacy(test, { ...list, sortOrder, responsetype: 'xml' })
  t.same([xml.status, xml.data.result, xml.data.message], [200, 'error', message])
  const nvp = await callLegacy(test, { action: 'ListOAuthCredentials', sortOrder })
  t.same([nvp.status, nvp.body], [200, `result=error;message=${message}`])
})

t.test('__proto__, constructor and friends are words outside every set, not a 500', async (t) => {
  for (const word of ['__proto__', 'constructor', 'toString', 'hasOwnProperty']) {
    for (const encoding of ['form', 'json'] as const) {
      const sorted = await callLegacy(test, { ...list, sortField: word }, { encoding })
      t.same([sorted.status, sorted.data], [200, error(`The requested sort field "${word}" is invalid.`)], `sortField=${word} (${encoding})`)
      const ordered = await callLegacy(test, { ...list, sortOrder: word }, { encoding })
      t.same([ordered.status, ordered.data], [200, error(`The requested sort order "${word}" is invalid.`)])
      const filtered = await callLegacy(test, { ...list, grantType: word }, { encoding })
      t.same([filtered.status, filtered.data], [200, error(`The requested grant type "${word}" is invalid.`)])
      const reset = await callLegacy(test, { ...update, resetSecret: word }, { encoding })
      t.same([reset.status, reset.data], [200, error(`The resetSecret value "${word}" is invalid: use 1 or 0.`)])
    }
  }
})

t.test('a parameter sent in the wrong shape is reported before a word outside a set, as before', async (t) => {
  const answer = await callLegacy(test, { ...list, sortField: 'nope', sortOrder: ['ASC'] })
  t.same(answer.data, error('The sortOrder parameter must be a single value.'))
  const both = await callLegacy(test, { ...update, resetSecret: 'maybe', name: ['a', 'b'] })
  t.same(both.data, error('The name parameter must be a single value.'))
  for (const parameter of ['credentialId', 'serviceId', 'resetSecret']) {
    const listed = await callLegacy(test, { ...update, [parameter]: ['1'] })
    t.same(listed.data, error(`The ${parameter} parameter must be a single value.`), `${parameter}[]=1`)
  }
})

t.test('the OpenAPI document shows the schemas that are enforced', async (t) => {
  const document = (await test.app.inject({ method: 'GET', url: '/openapi.json' })).json()
  for (const body of Object.values(document.paths['/includes/api.php'].post.requestBody.content)) {
    t.same(body, { schema: { $ref: '#/components/schemas/LegacyRequest' } }, 'every body encoding, one schema')
  }
  const requests = document.components.schemas.LegacyRequest.anyOf as {
    title: string
    properties: Record<string, { anyOf?: { enum?: unknown[] }[] }>
  }[]
  const documented = (action: string) => requests.find((request) => request.title === action)?.properties
  t.same(documented('ListOAuthCredentials')?.sortField, JSON.parse(JSON.stringify(schemaOf('ListOAuthCredentials', 'sortField'))))
  t.same(
    documented('UpdateOAuthCredential')?.resetSecret?.anyOf?.find((member) => member.enum?.includes('yes'))?.enum,
    wordsOf('UpdateOAuthCredential', 'resetSecret'),
  )
})
