import t from 'tap'
import { fuzz, RUNS, target } from '../helpers/fuzz.js'

t.test(`${RUNS} malformed REST PATCH requests: no 5xx, no leak, nothing written by a refusal`, async (t) => {
  const aim = await target(t)
  const { identifier, secret } = aim.test.admin
  await fuzz(
    t,
    aim,
    {
      method: 'PATCH',
      url: `/oauth/credentials/${aim.credentialId}`,
      headers: { authorization: `Basic ${Buffer.from(`${identifier}:${secret}`).toString('base64')}` },
      fields: { name: 'Renamed', description: 'Patched', scope: 'openid profile', logoUri: 'https://app.example.com/logo.png' },
    },
    (status) => status === 200,
  )
})
