import { hash, randomBytes, timingSafeEqual } from 'node:crypto'

/**
 * Client and API secrets are generated here from 64 (or 32) CSPRNG bytes, so a fast digest is
 * enough to store them: there is no password to guess, and a slow KDF would only cost every
 * authentication. The digest is compared in constant time.
 */
export function generateSecret(bytes = 64): string {
  return randomBytes(bytes).toString('base64')
}

/** The secret's SHA-256 as bytes; stored as hex (`hashSecret`), compared as bytes. */
function digestOf(secret: string): Buffer {
  // Node's hash() answers a Buffer for 'buffer'; its types name only the string encodings.
  return hash('sha256', secret, 'buffer' as 'hex') as unknown as Buffer
}

export function hashSecret(secret: string): string {
  return digestOf(secret).toString('hex')
}

// A digest to compare against when there is no stored one, so that "unknown identifier" and
// "wrong secret" take the same time.
const NO_MATCH = hashSecret(generateSecret())

/** Stored digests decoded once: the hex of every credential a process checks, bounded. */
const DECODED_MAX = 20_000
const decoded = new Map<string, Buffer>()

function storedDigest(storedHash: string): Buffer {
  let digest = decoded.get(storedHash)
  if (digest === undefined) {
    if (decoded.size >= DECODED_MAX) decoded.clear()
    digest = Buffer.from(storedHash, 'hex')
    decoded.set(storedHash, digest)
  }
  return digest
}

export function secretMatches(secret: string, storedHash: string | null | undefined): boolean {
  const expected = storedDigest(storedHash ?? NO_MATCH)
  const actual = digestOf(secret)
  return expected.length === actual.length && timingSafeEqual(expected, actual) && storedHash != null
}
