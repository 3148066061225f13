import type { Database, Watch } from '../db/database.js'
import type { ApiCredential } from '../generated/prisma/client.js'

/** What checking a caller needs of its API credential. */
export type ApiCredentialAccess = Pick<ApiCredential, 'identifier' | 'permissions' | 'allowedIps' | 'secretHash'>

export type ApiCredentialSummary = Pick<
  ApiCredential,
  'identifier' | 'description' | 'permissions' | 'allowedIps' | 'createdAt' | 'revokedAt'
>

/** The channel a database trigger notifies, with the identifier, when an API credential changes. */
const API_CREDENTIAL_CHANGED = 'api_credential_changed'

export type NewApiCredential = Pick<ApiCredential, 'identifier' | 'secretHash' | 'description' | 'permissions' | 'allowedIps'>

/**
 * The API-credentials domain's storage: the only code that talks to the database about who
 * may call this service. Prisma Client throughout: none of this is on a request's hot path
 * (a caller's credential is looked up once per few seconds, see ApiClientService.find).
 */
export function apiCredentialStorage(db: Database) {
  const { prisma } = db
  return {
    /**
     * Stores a new API credential; false when an active one has the identifier. A revoked one
     * is replaced: its identifier may be used again, and none of its old settings carry over.
     */
    insert(credential: NewApiCredential): Promise<boolean> {
      return db.exclusive(async () => {
        const existing = await prisma.apiCredential.findUnique({ where: { identifier: credential.identifier } })
        if (!existing) {
          await prisma.apiCredential.create({ data: credential })
          return true
        }
        const { count } = await prisma.apiCredential.updateMany({
          where: { identifier: credential.identifier, revokedAt: { not: null } },
          data: { ...credential, revokedAt: null, createdAt: new Date() },
        })
        return count > 0
      })
    },

    /** Replaces the secret digest of the active credential with this identifier; false when there is none. */
    async replaceSecret(identifier: string, secretHash: string): Promise<boolean> {
      const { count } = await db.exclusive(() =>
        prisma.apiCredential.updateMany({ where: { identifier, revokedAt: null }, data: { secretHash } }),
      )
      return count > 0
    },

    /** Creates or replaces the credential with this identifier, active again if it was revoked. */
    async upsert(credential: NewApiCredential): Promise<void> {
      const data = { ...credential, revokedAt: null }
      await db.exclusive(() =>
        prisma.apiCredential.upsert({ where: { identifier: credential.identifier }, create: data, update: data }),
      )
    },

    count(): Promise<number> {
      return db.exclusive(() => prisma.apiCredential.count())
    },

    list(): Promise<ApiCredentialSummary[]> {
      return db.exclusive(() =>
        prisma.apiCredential.findMany({
          orderBy: { id: 'asc' },
          select: { identifier: true, description: true, permissions: true, allowedIps: true, createdAt: true, revokedAt: true },
        }),
      )
    },

    /** Marks the active credential with this identifier revoked; false when there is none. */
    async revoke(identifier: string, at: Date): Promise<boolean> {
      const { count } = await db.exclusive(() =>
        prisma.apiCredential.updateMany({ where: { identifier, revokedAt: null }, data: { revokedAt: at } }),
      )
      return count > 0
    },

    findActive(identifier: string): Promise<ApiCredentialAccess | null> {
      return db.exclusive(() =>
        prisma.apiCredential.findFirst({
          where: { identifier, revokedAt: null },
          select: { identifier: true, permissions: true, allowedIps: true, secretHash: true },
        }),
      )
    },

    /** Calls `onChange(identifier)` when any process changes an API credential; `null`: any may have. */
    watchChanges(onChange: (identifier: string | null) => void): Watch {
      return db.watch(API_CREDENTIAL_CHANGED, onChange)
    },
  }
}

export type ApiCredentialStorage = ReturnType<typeof apiCredentialStorage>
