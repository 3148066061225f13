import { createHash } from 'node:crypto'
import t from 'tap'
import { generateSecret, hashSecret, secretMatches } from '../../src/secrets.js'

// What is stored is SHA-256 in lowercase hex, the format import (src/transfer/plan.ts) accepts
// and earlier versions stored: a change of format would lock out every stored client.
t.test('the stored hash is the secret’s SHA-256 in lowercase hex', async (t) => {
  const secret = generateSecret()
  t.equal(hashSecret(secret), createHash('sha256').update(secret).digest('hex'))
  t.match(hashSecret(secret), /^[0-9a-f]{64}$/)
})

t.test('a secret matches its own hash and no other', async (t) => {
  const secret = generateSecret()
  const stored = hashSecret(secret)
  t.ok(secretMatches(secret, stored), 'the secret itself')
  t.notOk(secretMatches(`${secret.slice(0, -1)}${secret.endsWith('A') ? 'B' : 'A'}`, stored), 'its last character changed')
  t.notOk(secretMatches(secret, `${stored.slice(0, -1)}${stored.endsWith('0') ? '1' : '0'}`), 'the stored hash’s last digit changed')
  t.notOk(secretMatches(secret, stored.slice(0, 32)), 'half of the stored hash')
  t.notOk(secretMatches('', stored), 'an empty secret')
})

t.test('nothing matches a missing stored hash', async (t) => {
  t.notOk(secretMatches(generateSecret(), null))
  t.notOk(secretMatches(generateSecret(), undefined))
  t.notOk(secretMatches('', null))
})
