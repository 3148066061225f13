import { randomBytes } from 'node:crypto'
import { generateSecret, hashSecret } from '../secrets.js'
import { RecentlyRead } from '../recently-read.js'
import {
  ALL_ACTIONS,
  API_IDENTIFIER_RULE,
  API_SECRET_RULE,
  canonicalAddress,
  isApiIdentifier,
  isGivenApiSecret,
  settingsRefusal,
} from './access.js'
import type { ApiCredentialAccess, ApiCredentialStorage, ApiCredentialSummary } from './storage.js'

export interface NewApiClient {
  identifier?: string
  description?: string
  permissions?: string[]
  allowedIps?: string[]
  /** An existing secret (the original's), kept so its callers change nothing; default: a new one. */
  secret?: string
}

/** A request the API-credential service refuses; its message is one line for the operator. */
export class ApiClientError extends Error {}

/**
 * How long a looked-up API credential is reused at most. Every request authenticates, so this
 * saves a round trip on each. Any change (here, by another replica, or by the CLI) drops the
 * entry at once through the database's notification; the time bounds a silently lost one.
 */
const API_CLIENT_CACHE_MS = 5_000
const API_CLIENT_CACHE_ENTRIES = 10_000

/**
 * The API credentials that callers of this service present (identifier + secret), with the
 * actions each may run and the addresses it may come from. Secrets are returned once, at
 * creation, and stored only as a digest.
 */
export class ApiClientService {
  /** Made on the first look-up, so a CLI call that never authenticates opens no LISTEN connection. */
  #recentlyRead: RecentlyRead<ApiCredentialAccess> | undefined

  constructor(private readonly storage: ApiCredentialStorage) {}

  get #recent(): RecentlyRead<ApiCredentialAccess> {
    if (this.#recentlyRead === undefined) {
      const watch = this.storage.watchChanges((identifier) => this.#recent.forget(identifier))
      // Unknown identifiers are kept too: a prober cannot tell one from a known identifier by the
      // time it takes (creations are notified, migration 20261204000000). Hits and misses are
      // counted by the access checks, once a caller is let in.
      this.#recentlyRead = new RecentlyRead(watch, API_CLIENT_CACHE_MS, API_CLIENT_CACHE_ENTRIES, true)
    }
    return this.#recentlyRead
  }

  /** Whether look-ups may be answered from memory now (changes by other processes are heard). */
  get remembering(): boolean {
    return this.#recent.live
  }

  async create(input: NewApiClient): Promise<{ identifier: string; secret: string }> {
    const identifier = input.identifier ?? `api-${randomBytes(9).toString('base64url')}`
    if (!isApiIdentifier(identifier)) {
      throw new ApiClientError(`Invalid identifier ${JSON.stringify(identifier.slice(0, 40))}: ${API_IDENTIFIER_RULE.description}`)
    }
    const permissions = input.permissions ?? [ALL_ACTIONS]
    const refusal = settingsRefusal(permissions, input.allowedIps ?? [])
    if (refusal !== undefined) throw new ApiClientError(refusal)
    if (input.secret !== undefined && !isGivenApiSecret(input.secret)) {
      throw new ApiClientError(`The secret must be ${API_SECRET_RULE.description}`)
    }
    const secret = input.secret ?? generateSecret(32)
    const created = await this.storage.insert({
      identifier,
      secretHash: hashSecret(secret),
      description: input.description ?? '',
      permissions,
      allowedIps: (input.allowedIps ?? []).map(canonicalAddress),
    })
    if (!created) throw new ApiClientError(`An API credential "${identifier}" already exists`)
    this.#forgetChanged(identifier)
    return { identifier, secret }
  }

  /**
   * Makes sure the configured bootstrap credential exists with every permission and the
   * configured secret (API_BOOTSTRAP_IDENTIFIER / API_BOOTSTRAP_SECRET). One that was revoked
   * stays revoked (false): a restart must not bring back a credential an operator shut out.
   */
  async ensureBootstrap(identifier: string, secret: string): Promise<boolean> {
    const active = await this.storage.ensureActive({
      identifier,
      secretHash: hashSecret(secret),
      permissions: [ALL_ACTIONS],
      allowedIps: [],
      description: 'bootstrap (API_BOOTSTRAP_IDENTIFIER)',
    })
    this.#forgetChanged(identifier)
    return active
  }

  /** On a database with no API credential at all, creates one admin credential. */
  async createFirstAdminIfNone(): Promise<{ identifier: string; secret: string } | null> {
    if ((await this.storage.count()) > 0) return null
    return this.create({ identifier: 'admin', description: 'created at first start' })
  }

  /** A new secret for the active API credential with this identifier; the old one stops working at once. */
  async rotate(identifier: string): Promise<string> {
    const secret = generateSecret(32)
    const replaced = await this.storage.replaceSecret(identifier, hashSecret(secret))
    this.#forgetChanged(identifier)
    if (!replaced) throw new ApiClientError(`No active API credential "${identifier}"`)
    return secret
  }

  list(): Promise<ApiCredentialSummary[]> {
    return this.storage.list()
  }

  async revoke(identifier: string): Promise<boolean> {
    const revoked = await this.storage.revoke(identifier, new Date())
    this.#forgetChanged(identifier)
    return revoked
  }

  /**
   * After this process changed an API credential. The database also notifies, but PGlite has no
   * other process to notify; and a look-up that began before the change is not kept either.
   */
  #forgetChanged(identifier: string): void {
    this.#recentlyRead?.forget(identifier)
  }

  /** What `find` would answer from memory now (null: no active API credential), without reading; undefined otherwise. */
  remembered(identifier: string): ApiCredentialAccess | null | undefined {
    // What is kept follows the identifier rule (find keeps nothing else): the rule is tested on a miss only.
    const kept = this.#recent.remembered(identifier)
    if (kept !== undefined || isApiIdentifier(identifier)) return kept
    return null
  }

  /**
   * The active API client with this identifier, before its secret is checked (IP checks come
   * first). Answered from memory while changes are heard (see RecentlyRead), unknown and
   * revoked identifiers included.
   */
  find(identifier: string): Promise<ApiCredentialAccess | null> {
    // No API credential breaks the identifier rule: such a name is answered without a read, and
    // not kept (a flood of 12 KB made-up names filled the memory of unknown ones).
    if (!isApiIdentifier(identifier)) return Promise.resolve(null)
    return this.#recent.get(identifier, () => this.storage.findActive(identifier))
  }
}
