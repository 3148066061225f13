import { hash, randomBytes, timingSafeEqual } from 'node:crypto'

/**
 * Client and API secrets are generated here from 64 (or 32) CSPRNG bytes, so a fast digest is
 * enough to store them: there is no password to guess, and a slow KDF would only cost every
 * authentication. The digest is compared in constant time.
 */
export function generateSecret(bytes = 64): string {
  return randomBytes(bytes).toString('base64')
}

export function hashSecret(secret: string): string {
  return hash('sha256', secret, 'hex')
}

// A digest to compare against when there is no stored one, so that "unknown identifier" and
// "wrong secret" take the same time.
const NO_MATCH = hashSecret(generateSecret())

export function secretMatches(secret: string, storedHash: string | null | undefined): boolean {
  const expected = Buffer.from(storedHash ?? NO_MATCH, 'hex')
  const actual = Buffer.from(hashSecret(secret), 'hex')
  return expected.length === actual.length && timingSafeEqual(expected, actual) && storedHash != null
}
