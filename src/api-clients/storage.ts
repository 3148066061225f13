import type { Database, Watch } from '../db/database.js'
import type { ApiCredential } from '../generated/prisma/client.js'
import { sql } from '../db/sql.js'
import { canonicalAddress } from './access.js'

/** What checking a caller needs of its API credential. */
export type ApiCredentialAccess = Pick<ApiCredential, 'identifier' | 'permissions' | 'allowedIps' | 'secretHash'>

export type ApiCredentialSummary = Pick<
  ApiCredential,
  'identifier' | 'description' | 'permissions' | 'allowedIps' | 'createdAt' | 'revokedAt'
>

/** The channel a database trigger notifies, with the identifier, when an API credential changes. */
const API_CREDENTIAL_CHANGED = 'api_credential_changed'

export type NewApiCredential = Pick<ApiCredential, 'identifier' | 'secretHash' | 'description' | 'permissions' | 'allowedIps'>

const ACCESS_COLUMNS = `identifier, permissions, allowed_ips AS "allowedIps", secret_hash AS "secretHash"`
const NEW_VALUES = `(:identifier, :secretHash, :description, CAST(:permissions AS text[]), CAST(:allowedIps AS text[]))`
const SET_NEW_VALUES = `secret_hash = EXCLUDED.secret_hash, description = EXCLUDED.description,
  permissions = EXCLUDED.permissions, allowed_ips = EXCLUDED.allowed_ips, revoked_at = NULL`

/** A revoked credential's identifier may be used again: the new one replaces it, none of its old settings carry over. */
const INSERT = sql<{ identifier: string }, NewApiCredential>('api_credential.insert', `
  INSERT INTO api_credential (identifier, secret_hash, description, permissions, allowed_ips) VALUES ${NEW_VALUES}
  ON CONFLICT (identifier) DO UPDATE SET ${SET_NEW_VALUES}, created_at = CURRENT_TIMESTAMP
  WHERE api_credential.revoked_at IS NOT NULL
  RETURNING identifier`)
/** Creates the credential, or sets these values on the active one; a revoked one is left revoked (no row back). */
const ENSURE_ACTIVE = sql<{ identifier: string }, NewApiCredential>('api_credential.ensure_active', `
  INSERT INTO api_credential (identifier, secret_hash, description, permissions, allowed_ips) VALUES ${NEW_VALUES}
  ON CONFLICT (identifier) DO UPDATE SET ${SET_NEW_VALUES}
  WHERE api_credential.revoked_at IS NULL
  RETURNING identifier`)
const REPLACE_SECRET = sql<{ identifier: string }, { identifier: string; secretHash: string }>('api_credential.replace_secret',
  `UPDATE api_credential SET secret_hash = :secretHash WHERE identifier = :identifier AND revoked_at IS NULL RETURNING identifier`,
)
const REVOKE = sql<{ identifier: string }, { identifier: string; at: Date }>('api_credential.revoke',
  `UPDATE api_credential SET revoked_at = :at WHERE identifier = :identifier AND revoked_at IS NULL RETURNING identifier`,
)
const COUNT = sql<{ count: number }>('api_credential.count', `SELECT count(*)::int AS count FROM api_credential`)
const LIST = sql<ApiCredentialSummary>('api_credential.list', `
  SELECT identifier, description, permissions, allowed_ips AS "allowedIps", created_at AS "createdAt", revoked_at AS "revokedAt"
  FROM api_credential ORDER BY id`)
const FIND_ACTIVE = sql<ApiCredentialAccess, { identifier: string }>('api_credential.find_active',
  `SELECT ${ACCESS_COLUMNS} FROM api_credential WHERE identifier = :identifier AND revoked_at IS NULL`,
)

/**
 * The API-credentials domain's storage: the only code that talks to the database about who
 * may call this service. Plain SQL like the credentials' storage: a CLI call or a start then
 * never loads Prisma's query engine, most of their CPU otherwise.
 */
export function apiCredentialStorage(db: Database) {
  return {
    /** Stores a new API credential; false when an active one has the identifier. */
    async insert(credential: NewApiCredential): Promise<boolean> {
      return (await db.run(INSERT, credential)).length > 0
    },

    /** Replaces the secret digest of the active credential with this identifier; false when there is none. */
    async replaceSecret(identifier: string, secretHash: string): Promise<boolean> {
      return (await db.run(REPLACE_SECRET, { identifier, secretHash })).length > 0
    },

    /** Creates or updates the credential; false when it is revoked, which nothing here undoes. */
    async ensureActive(credential: NewApiCredential): Promise<boolean> {
      return (await db.run(ENSURE_ACTIVE, credential)).length > 0
    },

    async count(): Promise<number> {
      const [row] = await db.run(COUNT, {})
      return row?.count ?? 0
    },

    list(): Promise<ApiCredentialSummary[]> {
      return db.run(LIST, {})
    },

    /** Marks the active credential with this identifier revoked; false when there is none. */
    async revoke(identifier: string, at: Date): Promise<boolean> {
      return (await db.run(REVOKE, { identifier, at })).length > 0
    },

    /** Its allow-list in one spelling per address, whenever it was stored (see canonicalAddress). */
    async findActive(identifier: string): Promise<ApiCredentialAccess | null> {
      const [row] = await db.run(FIND_ACTIVE, { identifier })
      return row ? { ...row, allowedIps: row.allowedIps.map(canonicalAddress) } : null
    },

    /** Calls `onChange(identifier)` when any process changes an API credential; `null`: any may have. */
    watchChanges(onChange: (identifier: string | null) => void): Watch {
      return db.watch(API_CREDENTIAL_CHANGED, onChange)
    },
  }
}

export type ApiCredentialStorage = ReturnType<typeof apiCredentialStorage>
