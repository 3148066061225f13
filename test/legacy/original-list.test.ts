import t from 'tap'
import { OriginalListError, parseOriginalDate, parseUtcOffset, readOriginalList } from '../../src/legacy/original-list.js'
import { hashSecret } from '../../src/secrets.js'

// The original's documented ListOAuthCredentials answer, as its PHP writes it (slashes escaped).
const DOCUMENTED = String.raw`{"result":"success","clients":[{"credentialId":1,"name":"Single Sign On","description":"","grantTypes":"single_sign_on","scope":"clientarea:sso clientarea:product_details","clientIdentifier":"WHMCS.AbCd\/Ef+GhIj==","clientSecret":"S3cr\/t+base64==","uuid":null,"serviceId":123,"logoUri":"","redirectUri":[],"rsaKeyPairId":0,"createdAt":"18th November 2016 9:32:24am","updatedAt":"2017-01-02 13:04:05"}]}`

t.test("the documented answer reads into the service's fields, the secret as its digest", async (t) => {
  const [credential, ...rest] = readOriginalList(DOCUMENTED)
  t.equal(rest.length, 0)
  t.same(credential, {
    credentialId: 1,
    clientIdentifier: 'WHMCS.AbCd/Ef+GhIj==',
    secretHash: hashSecret('S3cr/t+base64=='),
    name: 'Single Sign On',
    description: '',
    grantType: 'single_sign_on',
    scopes: ['clientarea:sso', 'clientarea:product_details'],
    serviceId: 123,
    logoUri: null,
    redirectUris: [],
    createdAt: new Date('2016-11-18T09:32:24Z'),
    updatedAt: new Date('2017-01-02T13:04:05Z'),
  })
  t.notMatch(JSON.stringify(credential), 'S3cr', 'the plain secret goes no further')
})

t.test('other shapes the original writes: digits as strings, null texts, a space-separated URI list', async (t) => {
  const answer = {
    result: 'success',
    clients: [
      {
        credentialId: '7',
        name: 'App',
        description: null,
        grantTypes: 'authorization_code',
        scope: ' openid  email ',
        clientIdentifier: 'X.1',
        clientSecret: 's',
        serviceId: null,
        logoUri: 'https://a.example/logo.png',
        redirectUri: 'https://a.example/cb https://a.example/cb2',
        createdAt: '2016-11-18 09:32:24',
        updatedAt: '1st March 2020 12:00:00pm',
      },
    ],
  }
  const [credential] = readOriginalList(JSON.stringify(answer))
  t.match(credential, {
    credentialId: 7,
    description: '',
    scopes: ['openid', 'email'],
    serviceId: null,
    logoUri: 'https://a.example/logo.png',
    redirectUris: ['https://a.example/cb', 'https://a.example/cb2'],
    updatedAt: new Date('2020-03-01T12:00:00Z'),
  })
})

t.test("dates in both of the original's forms, in the installation's time zone", async (t) => {
  const cases: [string, string | null][] = [
    ['18th November 2016 9:32:24am', '2016-11-18T09:32:24Z'],
    ['1st January 2020 12:05:00am', '2020-01-01T00:05:00Z'],
    ['2nd February 2020 12:00:00pm', '2020-02-02T12:00:00Z'],
    ['3rd March 2021 11:59:59PM', '2021-03-03T23:59:59Z'],
    ['22nd April 2022 1:02:03 pm', '2022-04-22T13:02:03Z'],
    ['2016-11-18 09:32:24', '2016-11-18T09:32:24Z'],
    ['2016-11-18T09:32:24', '2016-11-18T09:32:24Z'],
    ['29th February 2024 1:00:00am', '2024-02-29T01:00:00Z'],
    ['29th February 2023 1:00:00am', null],
    ['31st Smarch 2016 9:32:24am', null],
    ['18th November 2016 13:32:24pm', null],
    ['18th November 2016 0:32:24am', null],
    ['0000-00-00 00:00:00', null],
    ['2016-11-18 24:00:00', null],
    ['2016-11-18', null],
    ['yesterday', null],
  ]
  for (const [text, iso] of cases) t.same(parseOriginalDate(text), iso === null ? null : new Date(iso), text)
  t.same(parseOriginalDate('18th November 2016 9:32:24am', 60), new Date('2016-11-18T08:32:24Z'), 'UTC+01:00')
  t.same(parseOriginalDate('2016-11-18 09:32:24', -330), new Date('2016-11-18T15:02:24Z'), 'UTC-05:30')
  t.equal(parseUtcOffset('+01:00'), 60)
  t.equal(parseUtcOffset('-05:30'), -330)
  t.equal(parseUtcOffset('Z'), 0)
  for (const bad of ['+1', '01:00', '+15:00', '+01:60', 'CET']) t.equal(parseUtcOffset(bad), null, bad)
})

t.test('an answer that cannot be read is refused whole, with every problem named', async (t) => {
  const answer = {
    result: 'success',
    clients: [
      { credentialId: 1, clientIdentifier: 'A.1', clientSecret: 's', grantTypes: 'authorization_code', createdAt: '2016-11-18 09:32:24', updatedAt: '2016-11-18 09:32:24' },
      { credentialId: 0, clientIdentifier: 'A.2', grantTypes: 'authorization_code', createdAt: 'soon', updatedAt: '2016-11-18 09:32:24' },
      'not a client',
      { credentialId: 3, clientIdentifier: 'A.3', clientSecret: 's', redirectUri: [1], createdAt: '2016-11-18 09:32:24', updatedAt: '2016-11-18 09:32:24' },
    ],
  }
  const error = t.throws(() => readOriginalList(JSON.stringify(answer))) as OriginalListError
  t.ok(error instanceof OriginalListError)
  t.same(error.problems, [
    'clients[1] (credentialId 0): credentialId 0 is not a whole number from 1',
    'clients[1] (credentialId 0): clientSecret is missing (the original returns each secret: is this its own answer?)',
    `clients[1] (credentialId 0): createdAt "soon" is not a date in the original's forms ("18th November 2016 9:32:24am" or "2016-11-18 09:32:24")`,
    'clients[2]: not an object',
    'clients[3] (credentialId 3): redirectUri is not a list of strings',
  ])

  const refusals: [string, string][] = [
    ['{"result":"error","message":"Authentication Failed"}', 'The original answered an error: Authentication Failed'],
    ['result=success;clients=', 'The answer is not JSON: '],
    ['[]', 'The answer is not a JSON object.'],
    ['{"result":"success"}', 'The answer has no "clients" list.'],
  ]
  for (const [text, message] of refusals) {
    t.throws(() => readOriginalList(text), { message: new RegExp(`^${message.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`) }, text)
  }
})
