import t from 'tap'
import { ApiClientError } from '../../src/api-clients/service.js'
import { buildTestApp } from '../helpers/app.js'

t.test('the service refuses an identifier HTTP Basic could not carry back, whoever asks', async (t) => {
  const test = await buildTestApp(t)
  const before = await test.app.apiClients.list()
  for (const identifier of ['', 'ab', 'two words', 'ops:admin', 'x'.repeat(129), 'new\nline']) {
    await t.rejects(
      test.app.apiClients.create({ identifier }),
      new ApiClientError(`Invalid identifier ${JSON.stringify(identifier.slice(0, 40))}: 3 to 128 of A-Z a-z 0-9 . _ -`),
      JSON.stringify(identifier.slice(0, 20)),
    )
  }
  t.same(await test.app.apiClients.list(), before, 'nothing was stored')
  t.match(await test.app.apiClients.create({}), { identifier: /^api-[A-Za-z0-9_-]{12}$/ }, 'a generated identifier follows the rule')
})
