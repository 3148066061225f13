import t from 'tap'
import { fuzz, RUNS, target } from '../helpers/fuzz.js'

t.test(`${RUNS} malformed requests to api.php: no 5xx, no leak, nothing written by a refusal`, async (t) => {
  const aim = await target(t)
  const fields = {
    action: 'UpdateOAuthCredential',
    username: aim.test.admin.identifier,
    password: aim.test.admin.secret,
    credentialId: aim.credentialId,
    name: 'Renamed',
    scope: 'openid profile',
    redirectUri: 'https://app.example.com/cb',
    resetSecret: '0',
    responsetype: 'json',
  }
  await fuzz(t, aim, { method: 'POST', url: '/includes/api.php', fields }, (status, body) =>
    status === 200 && /result("?:"?|=|>)success/.test(body),
  )
})
