import { randomBytes } from 'node:crypto'
import { isIP } from 'node:net'
import { hasNul } from '../credentials/rules.js'
import { generateSecret, hashSecret } from '../secrets.js'
import { TtlCache } from '../ttl-cache.js'
import { ACTIONS, ALL_ACTIONS } from './access.js'
import type { ApiCredentialAccess, ApiCredentialStorage, ApiCredentialSummary } from './storage.js'

export interface NewApiClient {
  identifier?: string
  description?: string
  permissions?: string[]
  allowedIps?: string[]
  /** An existing secret (the original's), kept so its callers change nothing; default: a new one. */
  secret?: string
}

/** A secret an operator brings: at least as long as the original's own (32 characters), on one line. */
const GIVEN_SECRET = /^[\x21-\x7e]{32,256}$/

/** A request the API-credential service refuses; its message is one line for the operator. */
export class ApiClientError extends Error {}

/**
 * How long a looked-up API credential is reused. Every request authenticates, so this saves a
 * round trip on each; a change made in this process applies at once, one made by another
 * process (the CLI revoking a credential) within this time.
 */
export const API_CLIENT_CACHE_MS = 5_000
const API_CLIENT_CACHE_ENTRIES = 10_000

/**
 * The API credentials that callers of this service present (identifier + secret), with the
 * actions each may run and the addresses it may come from. Secrets are returned once, at
 * creation, and stored only as a digest.
 */
export class ApiClientService {
  readonly #recent = new TtlCache<string, Promise<ApiCredentialAccess | null>>(API_CLIENT_CACHE_MS, API_CLIENT_CACHE_ENTRIES)

  constructor(private readonly storage: ApiCredentialStorage) {}

  async create(input: NewApiClient): Promise<{ identifier: string; secret: string }> {
    const identifier = input.identifier ?? `api-${randomBytes(9).toString('base64url')}`
    const permissions = input.permissions ?? [ALL_ACTIONS]
    for (const permission of permissions) {
      if (permission !== ALL_ACTIONS && !(ACTIONS as readonly string[]).includes(permission)) {
        throw new ApiClientError(`Unknown action "${permission}". Known: ${ACTIONS.join(', ')} or ${ALL_ACTIONS}`)
      }
    }
    for (const ip of input.allowedIps ?? []) {
      if (isIP(ip) === 0) throw new ApiClientError(`"${ip}" is not an IP address`)
    }
    if (input.secret !== undefined && !GIVEN_SECRET.test(input.secret)) {
      throw new ApiClientError('The secret must be 32 to 256 printable ASCII characters, without spaces')
    }
    const secret = input.secret ?? generateSecret(32)
    this.#recent.delete(identifier)
    const created = await this.storage.insert({
      identifier,
      secretHash: hashSecret(secret),
      description: input.description ?? '',
      permissions,
      allowedIps: input.allowedIps ?? [],
    })
    if (!created) throw new ApiClientError(`An API credential "${identifier}" already exists`)
    return { identifier, secret }
  }

  /**
   * Makes sure the configured bootstrap credential exists with every permission and the
   * configured secret (API_BOOTSTRAP_IDENTIFIER / API_BOOTSTRAP_SECRET).
   */
  async ensureBootstrap(identifier: string, secret: string): Promise<void> {
    this.#recent.delete(identifier)
    await this.storage.upsert({
      identifier,
      secretHash: hashSecret(secret),
      permissions: [ALL_ACTIONS],
      allowedIps: [],
      description: 'bootstrap (API_BOOTSTRAP_IDENTIFIER)',
    })
  }

  /** On a database with no API credential at all, creates one admin credential. */
  async createFirstAdminIfNone(): Promise<{ identifier: string; secret: string } | null> {
    if ((await this.storage.count()) > 0) return null
    return this.create({ identifier: 'admin', description: 'created at first start' })
  }

  list(): Promise<ApiCredentialSummary[]> {
    return this.storage.list()
  }

  async revoke(identifier: string): Promise<boolean> {
    this.#recent.delete(identifier)
    return this.storage.revoke(identifier, new Date())
  }

  /**
   * The active API client with this identifier, before its secret is checked (IP checks come
   * first). Looked up at most once per API_CLIENT_CACHE_MS; failed look-ups are not kept.
   */
  find(identifier: string): Promise<ApiCredentialAccess | null> {
    if (hasNul(identifier)) return Promise.resolve(null)
    let found = this.#recent.get(identifier)
    if (found === undefined) {
      found = this.storage.findActive(identifier)
      this.#recent.set(identifier, found)
      found.catch(() => this.#recent.delete(identifier))
    }
    return found
  }
}
