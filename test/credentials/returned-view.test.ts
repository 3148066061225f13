import t from 'tap'
import { buildTestApp } from '../helpers/app.js'

// The service answers a write with the credential as it stored it, without reading it back:
// each answer must equal what a later read returns.
t.test('every write answers with the credential exactly as a later read sees it', async (t) => {
  const test = await buildTestApp(t)
  const service = test.app.credentials
  const actor = { actor: 'tester', source: 'rest' as const }
  const { credential: created, clientSecret } = await service.create(
    {
      grantType: 'authorization_code',
      name: 'View',
      scopes: ['openid', 'email'],
      redirectUris: ['https://a.example.com/cb', 'http://127.0.0.1:8080/cb'],
    },
    actor,
  )
  const reference = { credentialId: created.credentialId }
  t.same(created, await service.get(reference), 'create')

  const renamed = await service.update(reference, { name: 'Renamed', description: 'd' }, actor)
  t.same(renamed.credential, await service.get(reference), 'update of columns')
  t.equal(renamed.credential.version, 2)
  t.ok(renamed.credential.updatedAt >= created.updatedAt)

  const relisted = await service.update(
    { clientIdentifier: created.clientIdentifier },
    { scopes: ['profile', 'openid'], redirectUris: ['https://b.example.com/cb'], logoUri: 'https://a.example.com/logo.png' },
    actor,
  )
  t.same(relisted.credential, await service.get(reference), 'update of scopes and redirect URIs, by client identifier')
  t.same(relisted.credential.scopes, ['profile', 'openid'], 'in the order given')

  const unchanged = await service.update(reference, { name: 'Renamed' }, actor)
  t.same(unchanged.credential, await service.get(reference), 'an update that changes nothing')
  t.equal(unchanged.credential.version, 3, 'writes nothing')

  const rotated = await service.rotateSecret(reference, 3600, actor)
  t.same(rotated.credential, await service.get(reference), 'rotation with a grace period')
  t.ok(rotated.credential.previousSecretExpiresAt, 'the old secret has an end')
  t.ok(await service.authenticate(created.clientIdentifier, clientSecret), 'the old secret works during the grace period')

  const reset = await service.update(reference, { serviceId: 7 }, actor, { resetSecret: true })
  t.same(reset.credential, await service.get(reference), 'reset of the secret')
  t.equal(reset.credential.previousSecretExpiresAt, null, 'a reset ends the grace period')
  t.equal(await service.authenticate(created.clientIdentifier, clientSecret), null)
  const authenticated = await service.authenticate(created.clientIdentifier, reset.newClientSecret as string)
  t.same(authenticated, await service.get(reference), 'authenticate answers with the credential as stored')

  const dryRun = await service.update(reference, { name: 'Not stored' }, actor, { dryRun: true })
  t.equal(dryRun.credential.name, 'Not stored')
  t.equal((await service.get(reference)).name, 'Renamed', 'a dry run writes nothing')

  await t.rejects(service.get({ credentialId: 999 }), { message: 'Invalid Credential ID provided.' })
  await t.rejects(service.update({ clientIdentifier: 'TEST.none' }, { name: 'x' }, actor), {
    message: 'Invalid Client Identifier provided.',
  })
  t.equal(await service.authenticate('TEST.none', clientSecret), null)
})
