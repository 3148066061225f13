import { hash, randomBytes } from 'node:crypto'

/**
 * Client and API secrets are generated here from 64 (or 32) CSPRNG bytes, so a fast digest is
 * enough to store them: there is no password to guess, and a slow KDF would only cost every
 * authentication. The digest is compared in constant time.
 */
export function generateSecret(bytes = 64): string {
  return randomBytes(bytes).toString('base64')
}

/** The secret's SHA-256 in lowercase hex: what is stored, and what a presented secret is compared by. */
export function hashSecret(secret: string): string {
  // As a string, not bytes: a Buffer result costs three times as much (its backing store is
  // allocated, registered and swept), and authenticate hashes twice a request.
  return hash('sha256', secret, 'hex')
}

// A digest to compare against when there is no stored one, so that "unknown identifier" and
// "wrong secret" take the same time.
const NO_MATCH = hashSecret(generateSecret())

export function secretMatches(secret: string, storedHash: string | null | undefined): boolean {
  return sameDigest(hashSecret(secret), storedHash ?? NO_MATCH) && storedHash != null
}

/**
 * Two hex digests compared in constant time: every character is looked at, where `===` stops at
 * the first difference. (Stored hashes are lowercase hex; src/transfer/plan.ts refuses others.)
 */
function sameDigest(given: string, stored: string): boolean {
  if (given.length !== stored.length) return false
  let difference = 0
  for (let index = 0; index < given.length; index++) difference |= given.charCodeAt(index) ^ stored.charCodeAt(index)
  return difference === 0
}
