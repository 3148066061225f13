import { randomBytes } from 'node:crypto'
import { isIP } from 'node:net'
import { hasNul } from '../credentials/rules.js'
import type { Database } from '../db/database.js'
import { generateSecret, hashSecret, secretMatches } from '../secrets.js'

/** Every action an API client can be allowed to run, on api.php and REST alike. */
export const ACTIONS = [
  'CreateOAuthCredential',
  'ListOAuthCredentials',
  'GetOAuthCredential',
  'UpdateOAuthCredential',
  'DeleteOAuthCredential',
  'RotateOAuthCredentialSecret',
  'AuthenticateOAuthCredential',
  'ListOAuthCredentialEvents',
] as const
export type Action = (typeof ACTIONS)[number]
export const ALL_ACTIONS = '*'

/** A caller of this service, as the routes see it once its secret has been checked. */
export interface ApiClient {
  identifier: string
  permissions: string[]
  allowedIps: string[]
}

export interface ApiClientSummary extends ApiClient {
  description: string
  createdAt: Date
  revokedAt: Date | null
}

export interface NewApiClient {
  identifier?: string
  description?: string
  permissions?: string[]
  allowedIps?: string[]
}

export class ApiClientError extends Error {}

type FoundApiClient = (ApiClient & { secretHash: string }) | null

/**
 * How long a looked-up API credential is reused. Every request authenticates, so this saves a
 * round trip on each; a change made in this process applies at once, one made by another
 * process (the CLI revoking a credential) within this time.
 */
export const API_CLIENT_CACHE_MS = 5_000
const API_CLIENT_CACHE_ENTRIES = 10_000

/** Why a caller is turned away, in the original api.php's words; REST uses the same ones. */
export const refusals = {
  missing: 'Invalid or missing credentials',
  failed: 'Authentication Failed',
  address: (ip: string) => `Invalid IP ${ip}`,
  permission: (action: string) => `Invalid Permissions: API action "${action}" is not allowed`,
}

export function mayRun(client: ApiClient, action: string): boolean {
  return client.permissions.includes(ALL_ACTIONS) || client.permissions.includes(action)
}

/**
 * Whether `secret` is this API credential's. It is compared even when there is no such
 * credential, so "unknown identifier" and "wrong secret" take the same time on every endpoint.
 */
export function secretAccepted<C extends { secretHash: string }>(client: C | null | undefined, secret: string): client is C {
  return secretMatches(secret, client?.secretHash)
}

/** An empty allow-list lets any address in. */
export function ipAllowed(client: Pick<ApiClient, 'allowedIps'>, ip: string): boolean {
  return client.allowedIps.length === 0 || client.allowedIps.includes(ip)
}

/**
 * The API credentials that callers of this service present (identifier + secret), with the
 * actions each may run and the addresses it may come from. Secrets are returned once, at
 * creation, and stored only as a digest.
 */
export class ApiClientService {
  readonly #recent = new Map<string, { at: number; found: Promise<FoundApiClient> }>()

  constructor(private readonly db: Database) {}

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
    const secret = generateSecret(32)
    this.#recent.delete(identifier)
    await this.db.exclusive(async () => {
      const existing = await this.db.prisma.apiCredential.findUnique({ where: { identifier } })
      if (existing) throw new ApiClientError(`An API credential "${identifier}" already exists`)
      await this.db.prisma.apiCredential.create({
        data: {
          identifier,
          secretHash: hashSecret(secret),
          description: input.description ?? '',
          permissions,
          allowedIps: input.allowedIps ?? [],
        },
      })
    })
    return { identifier, secret }
  }

  /**
   * Makes sure the configured bootstrap credential exists with every permission and the
   * configured secret (API_BOOTSTRAP_IDENTIFIER / API_BOOTSTRAP_SECRET).
   */
  async ensureBootstrap(identifier: string, secret: string): Promise<void> {
    const data = {
      secretHash: hashSecret(secret),
      permissions: [ALL_ACTIONS],
      allowedIps: [],
      revokedAt: null,
      description: 'bootstrap (API_BOOTSTRAP_IDENTIFIER)',
    }
    this.#recent.delete(identifier)
    await this.db.exclusive(() =>
      this.db.prisma.apiCredential.upsert({ where: { identifier }, create: { identifier, ...data }, update: data }),
    )
  }

  /** On a database with no API credential at all, creates one admin credential. */
  async createFirstAdminIfNone(): Promise<{ identifier: string; secret: string } | null> {
    const count = await this.db.exclusive(() => this.db.prisma.apiCredential.count())
    if (count > 0) return null
    return this.create({ identifier: 'admin', description: 'created at first start' })
  }

  async list(): Promise<ApiClientSummary[]> {
    return this.db.exclusive(() =>
      this.db.prisma.apiCredential.findMany({
        orderBy: { id: 'asc' },
        select: {
          identifier: true,
          description: true,
          permissions: true,
          allowedIps: true,
          createdAt: true,
          revokedAt: true,
        },
      }),
    )
  }

  async revoke(identifier: string): Promise<boolean> {
    this.#recent.delete(identifier)
    const { count } = await this.db.exclusive(() =>
      this.db.prisma.apiCredential.updateMany({
        where: { identifier, revokedAt: null },
        data: { revokedAt: new Date() },
      }),
    )
    return count > 0
  }

  /**
   * The active API client with this identifier, before its secret is checked (IP checks come
   * first). Looked up at most once per API_CLIENT_CACHE_MS; failed look-ups are not kept.
   */
  find(identifier: string): Promise<FoundApiClient> {
    if (hasNul(identifier)) return Promise.resolve(null)
    const now = Date.now()
    const recent = this.#recent.get(identifier)
    if (recent && now - recent.at < API_CLIENT_CACHE_MS) return recent.found
    const found = this.db.exclusive(() =>
      this.db.prisma.apiCredential.findFirst({
        where: { identifier, revokedAt: null },
        select: { identifier: true, permissions: true, allowedIps: true, secretHash: true },
      }),
    )
    this.#recent.delete(identifier)
    if (this.#recent.size >= API_CLIENT_CACHE_ENTRIES) this.#recent.delete(this.#recent.keys().next().value as string)
    this.#recent.set(identifier, { at: now, found })
    found.catch(() => this.#recent.delete(identifier))
    return found
  }
}
