import type { Database, StatementRunner } from '../db/database.js'
import type { Watch } from '../db/notifications.js'
import { sql } from '../db/sql.js'
import type { Actor, AuditEvent, CredentialFields, StoredCredential } from './credential.js'

/*
 * The credentials domain's storage: the only code that talks to the database about
 * credentials, their scopes and redirect URIs, and their audit trail. Tables and triggers are
 * defined in prisma/schema.prisma and prisma/migrations; row types come from Prisma's
 * generated client. Statements are plain SQL with named parameters, sent straight to the
 * driver Prisma's adapter uses (docs/development.md says why not Prisma's query API or
 * TypedSQL).
 */

/** A credential's row with its scopes and redirect URIs, in one statement, as StoredCredential. */
export const CREDENTIAL_COLUMNS = `
  c.id AS "credentialId", c.client_identifier AS "clientIdentifier", c.secret_hash AS "secretHash",
  c.previous_secret_hash AS "previousSecretHash", c.previous_secret_expires_at AS "previousSecretExpiresAt",
  c.name, c.description, c.grant_type::text AS "grantType", c.service_id AS "serviceId", c.logo_uri AS "logoUri",
  c.version, c.last_used_at AS "lastUsedAt", c.created_at AS "createdAt", c.updated_at AS "updatedAt",
  ARRAY(SELECT s.scope_name FROM credential_scope s WHERE s.credential_id = c.id ORDER BY s.position)::text[] AS scopes,
  ARRAY(SELECT r.uri FROM credential_redirect_uri r WHERE r.credential_id = c.id ORDER BY r.position)::text[] AS "redirectUris"`

export const READ_BY_ID = sql<StoredCredential, { credentialId: number }>(
  'credential.read_by_id',
  `SELECT ${CREDENTIAL_COLUMNS} FROM credential c WHERE c.id = :credentialId`,
)
export const READ_BY_CLIENT_IDENTIFIER = sql<StoredCredential, { clientIdentifier: string }>(
  'credential.read_by_client_identifier',
  `SELECT ${CREDENTIAL_COLUMNS} FROM credential c WHERE c.client_identifier = :clientIdentifier`,
)

interface AuditParams {
  actor: string
  source: string
  requestId: string | null
  action: string
  changedFields: string[]
  /** The application's clock: every timestamp a change stores is this one. */
  at: Date
}

type InsertParams = Omit<CredentialFields, 'grantType'> & { grantType: string } & AuditParams & {
    clientIdentifier: string
    secretHash: string
  }

/** The lists a credential has, each a table of its own with a position column. */
export const LISTS = [
  { param: 'scopes', table: 'credential_scope', column: 'scope_name' },
  { param: 'redirectUris', table: 'credential_redirect_uri', column: 'uri' },
] as const

/** Inserts the list given as `:param`, in order, for the credential that CTE `owner` returns. */
function insertList(owner: string, { param, table, column }: (typeof LISTS)[number]): string {
  return `INSERT INTO ${table} (credential_id, ${column}, position)
    SELECT ${owner}.id, item.value, item.n - 1 FROM ${owner}, unnest(CAST(:${param} AS text[])) WITH ORDINALITY AS item(value, n)`
}

/** Records the change in the audit trail, for the credential that CTE `owner` returns. */
function auditOf(owner: string): string {
  return `INSERT INTO audit_event (credential_id, actor, action, changed_fields, request_id, source, created_at)
    SELECT ${owner}.id, :actor, :action, :changedFields, :requestId, :source, :at FROM ${owner}`
}

/** A new credential, its scopes and redirect URIs, and its audit event: one atomic statement. */
const INSERT = sql<{ credentialId: number }, InsertParams>('credential.insert', `
  WITH created AS (
    INSERT INTO credential (client_identifier, secret_hash, name, description, grant_type, service_id, logo_uri, created_at, updated_at)
    VALUES (:clientIdentifier, :secretHash, :name, :description, CAST(:grantType AS "GrantType"),
      CAST(:serviceId AS integer), :logoUri, :at, :at)
    RETURNING id),
  ${LISTS.map((list) => `new_${list.param} AS (${insertList('created', list)})`).join(',\n  ')},
  audit AS (${auditOf('created')})
  SELECT id AS "credentialId" FROM created`)

/** The secret columns as a write leaves them. */
export interface SecretColumns {
  secretHash: string
  previousSecretHash: string | null
  previousSecretExpiresAt: Date | null
}

type WriteParams = Omit<CredentialFields, 'scopes' | 'redirectUris'> &
  SecretColumns &
  AuditParams & {
    credentialId: number
    readVersion: number
    /** null keeps the stored list. */
    scopes: string[] | null
    redirectUris: string[] | null
  }

/**
 * A change of an existing credential and its audit event, in one atomic statement, written
 * only if the credential still has the version that was read: otherwise nothing is written
 * and no row comes back. The lists are replaced only when given; each replacement deletes
 * before it inserts (it reads the deletion's result), so a URI may move to another position.
 */
export const WRITE = sql<{ version: number }, WriteParams>('credential.write', `
  WITH updated AS (
    UPDATE credential SET
      name = :name, description = :description, grant_type = CAST(:grantType AS "GrantType"),
      service_id = CAST(:serviceId AS integer), logo_uri = :logoUri,
      secret_hash = :secretHash, previous_secret_hash = :previousSecretHash,
      previous_secret_expires_at = CAST(:previousSecretExpiresAt AS timestamptz),
      version = version + 1, updated_at = :at
    WHERE id = :credentialId AND version = :readVersion
    RETURNING id, version),
  ${LISTS.map(
    (list) => `old_${list.param} AS (
    DELETE FROM ${list.table} WHERE credential_id IN (SELECT id FROM updated) AND CAST(:${list.param} AS text[]) IS NOT NULL
    RETURNING 1),
  new_${list.param} AS (
    ${insertList('updated', list)}
    WHERE (SELECT count(*) FROM old_${list.param}) >= 0),`,
  ).join('\n  ')}
  audit AS (${auditOf('updated')})
  SELECT version FROM updated`)

/** Deletes a credential (its scopes and URIs cascade) and records it, if the version read still holds. */
const DELETE = sql<{ credential_id: number }, AuditParams & { credentialId: number; readVersion: number }>('credential.delete', `
  WITH deleted AS (DELETE FROM credential WHERE id = :credentialId AND version = :readVersion RETURNING id)
  ${auditOf('deleted')}
  RETURNING credential_id`)

/** Waits for, then holds until the transaction ends, the credential's row lock. */
const LOCK = sql<{ id: number }, { credentialId: number }>(
  'credential.lock',
  'SELECT id FROM credential WHERE id = :credentialId FOR UPDATE',
)

/** Not a change of the credential: neither its version nor updatedAt moves, and no one is told. */
const TOUCH_LAST_USED = sql<never, { credentialId: number; at: Date }>(
  'credential.touch_last_used',
  'UPDATE credential SET last_used_at = :at WHERE id = :credentialId',
)

export const SCOPE_NAMES = sql<{ name: string }>('scope.names', 'SELECT name FROM scope')

/** An audit event's row as AuditEvent, but its bigint id as text (Number() it). */
export const EVENT_COLUMNS = `id::text AS id, credential_id AS "credentialId", actor, action, changed_fields AS "changedFields",
    request_id AS "requestId", source, created_at AS "createdAt"`

/** The advisory lock key of audit retention: a fixed number no other code of this database uses. */
export const AUDIT_RETENTION_LOCK = 0x6175_6469

/**
 * A page of a credential's events, newest first. The first page and the pages after a cursor
 * are two statements: in one, `(:beforeId IS NULL OR id < :beforeId)` is only a filter in the
 * plan that prepared statements settle on, and a deep page would read every newer event first.
 * The order names the column: a bare `id` would be the text alias, in text order (99 after 100).
 */
function eventsStatement(after: boolean) {
  return sql<AuditEvent & { id: string }, { credentialId: number; beforeId?: number; limit: number }>(
    after ? 'audit_event.list_after' : 'audit_event.list',
    `
  SELECT ${EVENT_COLUMNS}
  FROM audit_event
  WHERE credential_id = :credentialId${after ? ' AND id < :beforeId' : ''}
  ORDER BY audit_event.id DESC LIMIT :limit`)
}
export const EVENTS = { first: eventsStatement(false), after: eventsStatement(true) }

/**
 * Deletes up to `:batch` events older than `:before`, oldest first, if no other process is
 * pruning at this moment: the transaction-scoped advisory lock lasts as long as this one
 * statement, so each batch is short and only one replica deletes at a time.
 */
export const PRUNE_EVENTS = sql<{ held: boolean; deleted: number }, { before: Date; batch: number }>('audit_event.prune', `
  WITH lock AS (SELECT pg_try_advisory_xact_lock(${AUDIT_RETENTION_LOCK}) AS held),
  deleted AS (
    DELETE FROM audit_event WHERE id = ANY (ARRAY(
      SELECT id FROM audit_event WHERE created_at < :before AND (SELECT held FROM lock)
      ORDER BY created_at LIMIT :batch))
    RETURNING 1)
  SELECT (SELECT held FROM lock) AS held, (SELECT count(*) FROM deleted)::int AS deleted`)

/** prisma/migrations/20261128000000_credential_write: notified with a client identifier at every change. */
const CREDENTIAL_CHANGED = 'credential_changed'

/** Columns a list may be sorted by; a missing service id sorts as the lowest value. */
const SORT_COLUMNS = {
  credentialId: 'c.id',
  name: 'c.name',
  description: 'c.description',
  grantType: 'c.grant_type',
  serviceId: 'c.service_id',
  clientIdentifier: 'c.client_identifier',
  createdAt: 'c.created_at',
  updatedAt: 'c.updated_at',
} as const
export type SortField = keyof typeof SORT_COLUMNS

export interface ListFilter {
  grantType?: string
  clientIdentifier?: string
  /** Only credentials with a greater id. */
  afterId?: number
  sort: { field: SortField; order: 'asc' | 'desc' }
  limit: number
}

/**
 * A list query for this filter and order. Only the given filters appear in the text, so each
 * combination is planned for its indexes; the texts are few, built from the names above.
 */
export function listStatement(filter: ListFilter) {
  const where = [
    filter.grantType === undefined ? '' : 'c.grant_type = CAST(:grantType AS "GrantType")',
    filter.clientIdentifier === undefined ? '' : 'c.client_identifier = :clientIdentifier',
    filter.afterId === undefined ? '' : 'c.id > :afterId',
  ].filter((condition) => condition !== '')
  const { field, order } = filter.sort
  const direction = order === 'asc' ? 'ASC' : 'DESC'
  // PostgreSQL puts NULLs last when ascending; the original's 0 for "no service" sorts first.
  const nulls = field === 'serviceId' ? (order === 'asc' ? ' NULLS FIRST' : ' NULLS LAST') : ''
  const orderBy = field === 'credentialId' ? `c.id ${direction}` : `${SORT_COLUMNS[field]} ${direction}${nulls}, c.id ${direction}`
  return sql<StoredCredential, Omit<ListFilter, 'sort'>>(
    'credential.list',
    `SELECT ${CREDENTIAL_COLUMNS} FROM credential c${where.length ? ` WHERE ${where.join(' AND ')}` : ''} ` +
      `ORDER BY ${orderBy} LIMIT :limit`,
  )
}

type AuditOf = Pick<AuditParams, 'action' | 'changedFields' | 'at'> & { actor: Actor }

function auditParams({ actor, action, changedFields, at }: AuditOf): AuditParams {
  return { actor: actor.actor, source: actor.source, requestId: actor.requestId ?? null, action, changedFields, at }
}

const one = async <R>(rows: Promise<R[]>) => (await rows)[0] ?? null

/** Reading a credential and writing it over the version read: through the database, or in a turn. */
function changes(db: StatementRunner) {
  return {
    findById(credentialId: number): Promise<StoredCredential | null> {
      return one(db.run(READ_BY_ID, { credentialId }))
    },

    findByClientIdentifier(clientIdentifier: string): Promise<StoredCredential | null> {
      return one(db.run(READ_BY_CLIENT_IDENTIFIER, { clientIdentifier }))
    },

    /**
     * Writes the credential's new fields and secret columns, and its audit event, unless its
     * version moved since `readVersion`. Returns the new version, or null when it moved.
     */
    async write(
      change: { credentialId: number; readVersion: number } & Omit<CredentialFields, 'scopes' | 'redirectUris'> &
        SecretColumns & { scopes: string[] | null; redirectUris: string[] | null },
      audit: AuditOf,
    ): Promise<number | null> {
      const row = await one(db.run(WRITE, { ...change, ...auditParams(audit) }))
      return row?.version ?? null
    },

    /** Deletes the credential and records it, unless its version moved since `readVersion`. */
    async remove(change: { credentialId: number; readVersion: number }, audit: Omit<AuditOf, 'changedFields'>): Promise<boolean> {
      const rows = await db.run(DELETE, { ...change, ...auditParams({ ...audit, changedFields: [] }) })
      return rows.length > 0
    },
  }
}

export type CredentialChangeStorage = ReturnType<typeof changes>

export function credentialStorage(db: Database) {
  /** The end of the line of this process's writers waiting for a credential's turn, by id. */
  const turns = new Map<number, Promise<unknown>>()
  return {
    ...changes(db),

    /**
     * Runs `work` as the only writer of this credential: in one transaction that holds the
     * credential's row lock, so writers in other processes wait too. Writers of this process
     * queue here first, so a busy credential takes one pooled connection, not all of them.
     * Null when the turn has not come within `waitMs` (then `work` never runs).
     */
    inTurn<T>(credentialId: number, waitMs: number, work: (locked: CredentialChangeStorage) => Promise<T>): Promise<T | null> {
      let started = false
      let abandoned = false
      const turn = (turns.get(credentialId) ?? Promise.resolve()).then(() => {
        if (abandoned) return null
        started = true
        return db.transaction(async (tx) => {
          await tx.run(LOCK, { credentialId })
          return work(changes(tx))
        })
      })
      const settled = turn.catch(() => {})
      turns.set(credentialId, settled)
      let timer: NodeJS.Timeout | undefined
      const deadline = new Promise<null>((resolve) => {
        timer = setTimeout(() => {
          if (started) return
          abandoned = true
          resolve(null)
        }, waitMs)
      })
      void settled.then(() => {
        clearTimeout(timer)
        if (turns.get(credentialId) === settled) turns.delete(credentialId)
      })
      return Promise.race([turn, deadline])
    },

    async scopeNames(): Promise<string[]> {
      return (await db.run(SCOPE_NAMES, {})).map((row) => row.name)
    },

    list(filter: ListFilter): Promise<StoredCredential[]> {
      return db.run(listStatement(filter), filter)
    },

    /** Stores a new credential with its audit event; returns its id. */
    async insert(
      credential: CredentialFields & { clientIdentifier: string; secretHash: string },
      audit: AuditOf,
    ): Promise<number> {
      const [row] = await db.run(INSERT, { ...credential, ...auditParams(audit) })
      return (row as { credentialId: number }).credentialId
    },

    async touchLastUsed(credentialId: number, at: Date): Promise<void> {
      await db.run(TOUCH_LAST_USED, { credentialId, at })
    },

    async events(credentialId: number, page: { limit: number; beforeId?: number }): Promise<AuditEvent[]> {
      const { beforeId, limit } = page
      const rows = await db.run(beforeId === undefined ? EVENTS.first : EVENTS.after, { credentialId, beforeId, limit })
      // The trail's ids are bigint; well within a JavaScript number for any real trail.
      return rows.map((row) => ({ ...row, id: Number(row.id) }))
    },

    /**
     * Deletes one batch of events older than `before`. Returns how many, or null when another
     * process holds the pruning lock.
     */
    async pruneEvents(before: Date, batch: number): Promise<number | null> {
      const [row] = await db.run(PRUNE_EVENTS, { before, batch })
      return row?.held ? row.deleted : null
    },

    /** Calls `onChange(clientIdentifier)` when any process changes a credential; `null`: any may have. */
    watchChanges(onChange: (clientIdentifier: string | null) => void): Watch {
      return db.watch(CREDENTIAL_CHANGED, onChange)
    },
  }
}

export type CredentialStorage = ReturnType<typeof credentialStorage>
