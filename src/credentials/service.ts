import type { Database } from '../db/database.js'
import type { Prisma } from '../generated/prisma/client.js'
import { generateSecret, hashSecret, secretMatches } from '../secrets.js'
import { CredentialError, messages } from './errors.js'
import { RecentlyRead } from './recently-read.js'
import {
  assertValidCredential,
  hasNul,
  isGrantType,
  parseScopes,
  type CredentialState,
  type GrantType,
} from './rules.js'
import {
  DELETE_CREDENTIAL,
  READ_BY_CLIENT_IDENTIFIER,
  READ_BY_ID,
  TOUCH_LAST_USED,
  WRITE_CREDENTIAL,
} from './statements.js'

type Tx = Prisma.TransactionClient

const include = {
  scopes: { orderBy: { position: 'asc' }, select: { scopeName: true } },
  redirectUris: { orderBy: { position: 'asc' }, select: { uri: true } },
} as const satisfies Prisma.CredentialInclude

/** A credential row with its scopes and redirect URIs in order, as the service works on it. */
type CredentialRecord = Omit<Prisma.CredentialGetPayload<object>, 'grantType'> & {
  grantType: string
  scopes: string[]
  redirectUris: string[]
}

/** What a write leaves for the database to decide. */
interface WrittenFields {
  version: number
  updatedAt: Date
  previousSecretExpiresAt: Date | null
}

/** A change to an existing credential: its whole new state, and what else to replace. */
interface CredentialWrite {
  state: CredentialState
  /** Replaces the scope list; left out, it stays. */
  scopes?: string[]
  /** Replaces the redirect URI list; left out, it stays. */
  redirectUris?: string[]
  /** Replaces the secret hashes; left out, they stay. */
  secret?: { hash: string; previousHash: string | null; previousExpiresAt: Date | null }
  audit: { action: string; fields: string[]; actor: Actor }
}

/** prisma/migrations/20261128000000_credential_write: a credential's client identifier, when it changed. */
const CREDENTIAL_CHANGED = 'credential_changed'
/**
 * Long enough that a busy client authenticates from memory; short, in case a notification is
 * lost with the connection still up (a half-open network). Bounded, as any client may send
 * identifiers.
 */
const RECENTLY_READ = { ttlMs: 5_000, maxEntries: 10_000 }

/** A write found the credential changed since it was read. */
const STALE = Symbol('stale')
/** Enough for every writer of a credential that many requests change at once to get its turn. */
const MAX_ATTEMPTS = 64

/** A credential as every endpoint sees it. Never carries a secret or its hash. */
export interface CredentialView {
  id: number
  clientIdentifier: string
  name: string
  description: string
  grantType: GrantType
  scopes: string[]
  serviceId: number | null
  logoUri: string | null
  redirectUris: string[]
  version: number
  lastUsedAt: Date | null
  previousSecretExpiresAt: Date | null
  createdAt: Date
  updatedAt: Date
}

export interface AuditEventView {
  id: number
  credentialId: number
  actor: string
  action: string
  changedFields: string[]
  requestId: string | null
  source: string
  createdAt: Date
}

/** Who asked for a change, recorded in the audit trail. */
export interface Actor {
  actor: string
  source: 'legacy' | 'rest' | 'cli'
  requestId?: string
}

/** How a caller names a credential: the id wins when it is a positive number (SPEC §3). */
export interface CredentialReference {
  credentialId?: number
  clientIdentifier?: string
}

/** Fields to change. `undefined` keeps the stored value; `null` clears an optional one. */
export interface CredentialChanges {
  name?: string | null
  description?: string | null
  grantType?: string
  scope?: string | string[]
  serviceId?: number | null
  logoUri?: string | null
  redirectUri?: string[] | null
}

export type NewCredential = CredentialChanges

export interface UpdateOptions {
  resetSecret?: boolean
  /** Validate and return the would-be credential, writing nothing. */
  dryRun?: boolean
  /** Refuse the update unless the stored version is this one, or one of these (REST If-Match). */
  expectedVersion?: number | readonly number[]
}

export interface ListQuery {
  grantType?: string
  clientIdentifier?: string
  sortField?: string
  sortOrder?: string
  limit?: number
  /** Cursor: only credentials with a greater id (ascending id order). */
  afterId?: number
}

export const LIST_LIMIT = { default: 100, max: 1000 } as const
export const MAX_GRACE_SECONDS = 7 * 24 * 3600

/** Sortable columns, by every name a caller may use for them. */
const SORT_FIELDS: Record<string, keyof Prisma.CredentialOrderByWithRelationInput> = {
  id: 'id',
  credentialid: 'id',
  name: 'name',
  description: 'description',
  granttype: 'grantType',
  grant_type: 'grantType',
  serviceid: 'serviceId',
  service_id: 'serviceId',
  clientidentifier: 'clientIdentifier',
  client_identifier: 'clientIdentifier',
  createdat: 'createdAt',
  created_at: 'createdAt',
  updatedat: 'updatedAt',
  updated_at: 'updatedAt',
}

/** Audit names of the state's fields: the names callers send. */
const FIELD_NAMES: Record<keyof CredentialState, string> = {
  name: 'name',
  description: 'description',
  grantType: 'grantType',
  scopes: 'scope',
  serviceId: 'serviceId',
  logoUri: 'logoUri',
  redirectUris: 'redirectUri',
}

const MAX_INT4 = 2_147_483_647
const TRANSACTION_OPTIONS = { maxWait: 10_000, timeout: 10_000 }
/** lastUsedAt is kept to the minute, so a busy client does not write on every authentication. */
const LAST_USED_RESOLUTION_MS = 60_000

/**
 * The one place where OAuth client credentials are created, read, changed and removed. Every
 * endpoint (legacy api.php, REST, CLI) calls it; it validates the credential as it would be
 * stored, then writes the change and its audit event atomically, and only onto the state it
 * validated (see `change`).
 */
export class CredentialService {
  #catalogue: Promise<ReadonlySet<string>> | undefined
  /** What authentication read, by client identifier (see RecentlyRead). */
  readonly #recent: RecentlyRead<CredentialRecord>

  constructor(
    private readonly db: Database,
    private readonly clientIdentifierPrefix: string,
  ) {
    const watch = db.watch(CREDENTIAL_CHANGED, (clientIdentifier) => this.#recent.forget(clientIdentifier))
    this.#recent = new RecentlyRead(watch, RECENTLY_READ.ttlMs, RECENTLY_READ.maxEntries)
  }

  /** Whether authentication may answer from memory now (changes by other processes are heard). */
  get remembering(): boolean {
    return this.#recent.live
  }

  /** The scope catalogue, read once: it changes only through migrations. */
  scopeCatalogue(): Promise<ReadonlySet<string>> {
    this.#catalogue ??= this.db
      .exclusive(() => this.db.prisma.scope.findMany({ select: { name: true } }))
      .then((rows) => new Set(rows.map((row) => row.name)))
    this.#catalogue.catch(() => (this.#catalogue = undefined))
    return this.#catalogue
  }

  async create(input: NewCredential, actor: Actor): Promise<{ credential: CredentialView; clientSecret: string }> {
    const state = applyChanges(EMPTY_STATE, input)
    assertValidCredential(state, await this.scopeCatalogue())
    const clientSecret = generateSecret()
    const clientIdentifier = `${this.clientIdentifierPrefix}.${generateSecret(16)}`
    const record = await this.transaction(async (tx) => {
      const created = await tx.credential.create({
        data: {
          clientIdentifier,
          secretHash: hashSecret(clientSecret),
          ...columns(state),
          scopes: { create: state.scopes.map((scopeName, position) => ({ scopeName, position })) },
          redirectUris: { create: state.redirectUris.map((uri, position) => ({ uri, position })) },
        },
        include,
      })
      await audit(tx, created.id, 'create', changedFields(EMPTY_STATE, state), actor)
      return created
    })
    return { credential: toView(fromIncluded(record)), clientSecret }
  }

  async get(reference: CredentialReference): Promise<CredentialView> {
    return toView(await this.find(reference))
  }

  async list(query: ListQuery = {}): Promise<CredentialView[]> {
    const sortField = query.sortField === undefined ? 'id' : SORT_FIELDS[query.sortField.toLowerCase()]
    if (sortField === undefined) {
      throw new CredentialError('invalid', messages.sortFieldInvalid(String(query.sortField)), 'sortField')
    }
    const sortOrder = (query.sortOrder ?? 'asc').toLowerCase()
    if (sortOrder !== 'asc' && sortOrder !== 'desc') {
      throw new CredentialError('invalid', messages.sortOrderInvalid(String(query.sortOrder)), 'sortOrder')
    }
    if (query.grantType !== undefined && !isGrantType(query.grantType)) {
      throw new CredentialError('invalid', messages.grantTypeInvalid(query.grantType), 'grantType')
    }
    if (query.clientIdentifier !== undefined && hasNul(query.clientIdentifier)) return []
    const limit = Math.min(Math.max(1, Math.trunc(query.limit ?? LIST_LIMIT.default)), LIST_LIMIT.max)
    const records = await this.db.exclusive(() =>
      this.db.prisma.credential.findMany({
        where: {
          grantType: query.grantType as GrantType | undefined,
          clientIdentifier: query.clientIdentifier,
          id: query.afterId === undefined ? undefined : { gt: query.afterId },
        },
        orderBy: sortField === 'id' ? { id: sortOrder } : [{ [sortField]: sortBy(sortField, sortOrder) }, { id: sortOrder }],
        take: limit,
        include,
      }),
    )
    return records.map((record) => toView(fromIncluded(record)))
  }

  /**
   * The seed's UpdateOAuthCredential: fields left out keep their values, the result is
   * validated as a whole, and nothing is written unless all of it passes.
   */
  async update(
    reference: CredentialReference,
    changes: CredentialChanges,
    actor: Actor,
    options: UpdateOptions = {},
  ): Promise<{ credential: CredentialView; newClientSecret?: string }> {
    const catalogue = await this.scopeCatalogue()
    return this.change(reference, async (current) => {
      if (options.expectedVersion !== undefined && ![options.expectedVersion].flat().includes(current.version)) {
        throw new CredentialError('precondition_failed', messages.versionMismatch)
      }
      const before = toState(current)
      const after = applyChanges(before, changes)
      assertValidCredential(after, catalogue)
      const fields = changedFields(before, after)
      if (options.resetSecret) fields.push('clientSecret')
      if (options.dryRun) return { credential: { ...toView(current), ...viewOfState(after) } }
      if (fields.length === 0) return { credential: toView(current) }
      const newClientSecret = options.resetSecret ? generateSecret() : undefined
      const written = await this.write(current, {
        state: after,
        // Relations are rewritten only when they changed.
        scopes: fields.includes(FIELD_NAMES.scopes) ? after.scopes : undefined,
        redirectUris: fields.includes(FIELD_NAMES.redirectUris) ? after.redirectUris : undefined,
        secret: newClientSecret === undefined ? undefined : { hash: hashSecret(newClientSecret), previousHash: null, previousExpiresAt: null },
        audit: { action: 'update', fields, actor },
      })
      if (written === STALE) return STALE
      // Nothing is read back but what the database decided: the rest is the validated `after`.
      const credential: CredentialView = { ...toView(current), ...viewOfState(after), ...written }
      return newClientSecret === undefined ? { credential } : { credential, newClientSecret }
    })
  }

  /**
   * Issues a new client secret. With `graceSeconds` the previous secret keeps working until
   * then, so clients can be redeployed without an outage; without, it stops at once. A second
   * rotation with a grace period while one is running is refused: it would silently cut off
   * clients still on the oldest secret.
   */
  async rotateSecret(
    reference: CredentialReference,
    graceSeconds: number,
    actor: Actor,
  ): Promise<{ credential: CredentialView; clientSecret: string }> {
    if (!Number.isInteger(graceSeconds) || graceSeconds < 0 || graceSeconds > MAX_GRACE_SECONDS) {
      throw new CredentialError('invalid', messages.graceSecondsInvalid(MAX_GRACE_SECONDS), 'graceSeconds')
    }
    return this.change(reference, async (current) => {
      const graceEnds = current.previousSecretExpiresAt
      if (graceSeconds > 0 && graceEnds !== null && graceEnds > new Date()) {
        throw new CredentialError('conflict', messages.rotationInProgress(graceEnds.toISOString()), 'graceSeconds')
      }
      const clientSecret = generateSecret()
      const written = await this.write(current, {
        state: toState(current),
        secret: {
          hash: hashSecret(clientSecret),
          previousHash: graceSeconds > 0 ? current.secretHash : null,
          previousExpiresAt: graceSeconds > 0 ? new Date(Date.now() + graceSeconds * 1000) : null,
        },
        audit: { action: 'rotate_secret', fields: ['clientSecret'], actor },
      })
      return written === STALE ? STALE : { credential: { ...toView(current), ...written }, clientSecret }
    })
  }

  async delete(reference: CredentialReference, actor: Actor): Promise<CredentialView> {
    return this.change(reference, async (current) => {
      const deleted = await this.db.exclusive(() =>
        this.db.query(DELETE_CREDENTIAL, [
          current.id,
          current.version,
          actor.actor,
          actor.source,
          actor.requestId ?? null,
          new Date(),
        ]),
      )
      return deleted.length === 0 ? STALE : toView(current)
    })
  }

  /**
   * Checks a client's secret (or its previous one, during a rotation's grace period). This is
   * what an authorization server calls, since secrets are only stored hashed.
   */
  async authenticate(clientIdentifier: string, clientSecret: string): Promise<CredentialView | null> {
    if (hasNul(clientIdentifier)) return null
    const record = await this.#recent.get(clientIdentifier, () => this.read({ clientIdentifier }))
    const now = new Date()
    const current = secretMatches(clientSecret, record?.secretHash)
    const previous =
      record?.previousSecretExpiresAt != null &&
      record.previousSecretExpiresAt > now &&
      secretMatches(clientSecret, record.previousSecretHash)
    if (!record || !(current || previous)) return null
    if (record.lastUsedAt === null || now.getTime() - record.lastUsedAt.getTime() >= LAST_USED_RESOLUTION_MS) {
      await this.db.exclusive(() => this.db.query(TOUCH_LAST_USED, [record.id, now]))
      record.lastUsedAt = now
    }
    return toView(record)
  }

  /** The audit trail of one credential, newest first; it outlives the credential. */
  async events(credentialId: number, page: { limit: number; beforeId?: number }): Promise<AuditEventView[]> {
    const rows = await this.db.exclusive(() =>
      this.db.prisma.auditEvent.findMany({
        where: {
          credentialId,
          id: page.beforeId === undefined ? undefined : { lt: BigInt(page.beforeId) },
        },
        orderBy: { id: 'desc' },
        take: page.limit,
      }),
    )
    return rows.map((row) => ({ ...row, id: Number(row.id) }))
  }

  private transaction<T>(work: (tx: Tx) => Promise<T>): Promise<T> {
    return this.db.exclusive(() => this.db.prisma.$transaction(work, TRANSACTION_OPTIONS))
  }

  /**
   * Optimistic concurrency: reads the credential, lets `attempt` decide and write, and when
   * the write finds the credential changed since the read (STALE), reads and decides again.
   * Each attempt is one read and one write statement; no transaction stays open while the
   * service decides, and every decision is made on the state it overwrites.
   */
  private async change<T>(
    reference: CredentialReference,
    attempt: (current: CredentialRecord) => Promise<T | typeof STALE>,
  ): Promise<T> {
    for (let tries = 1; ; tries++) {
      const current = await this.find(reference)
      let outcome: T | typeof STALE
      try {
        outcome = await attempt(current)
      } finally {
        // Forgotten here as well as on the database's notification (even when the write's
        // answer was lost): this process's next authentication must see any change at once.
        this.#recent.forget(current.clientIdentifier)
      }
      if (outcome !== STALE) return outcome
      if (tries === MAX_ATTEMPTS) throw new CredentialError('conflict', messages.tooManyConcurrentChanges)
    }
  }

  /** Writes a change and its audit event, unless the credential's version moved since `current` was read. */
  private async write(current: CredentialRecord, change: CredentialWrite): Promise<WrittenFields | typeof STALE> {
    const { state, secret, audit } = change
    const rows = await this.db.exclusive(() =>
      this.db.query<WrittenFields>(WRITE_CREDENTIAL, [
        current.id,
        current.version,
        state.name,
        state.description,
        state.grantType,
        state.serviceId,
        state.logoUri,
        secret?.hash ?? null,
        secret?.previousHash ?? null,
        secret?.previousExpiresAt ?? null,
        change.scopes ?? null,
        change.redirectUris ?? null,
        audit.action,
        audit.fields,
        audit.actor.actor,
        audit.actor.source,
        audit.actor.requestId ?? null,
        // The application's clock, as for every other timestamp it stores.
        new Date(),
      ]),
    )
    return rows[0] ?? STALE
  }

  private async find(reference: CredentialReference): Promise<CredentialRecord> {
    const { credentialId, clientIdentifier } = reference
    let where: { id: number } | { clientIdentifier: string }
    // Made only when needed: an Error captures a stack trace, which costs on every request.
    let notFound: () => CredentialError
    if (credentialId !== undefined && credentialId > 0) {
      where = { id: credentialId }
      notFound = () => new CredentialError('not_found', messages.credentialIdInvalid, 'credentialId')
      if (!Number.isInteger(credentialId) || credentialId > MAX_INT4) throw notFound()
    } else if (clientIdentifier) {
      where = { clientIdentifier }
      notFound = () => new CredentialError('not_found', messages.clientIdentifierInvalid, 'clientIdentifier')
      if (hasNul(clientIdentifier)) throw notFound()
    } else {
      throw new CredentialError('invalid', messages.referenceRequired, 'credentialId')
    }
    const record = await this.read(where)
    if (!record) throw notFound()
    return record
  }

  /** A credential by id or client identifier, with its scopes and redirect URIs, in one statement. */
  private async read(where: { id: number } | { clientIdentifier: string }): Promise<CredentialRecord | null> {
    const rows = await this.db.exclusive(() =>
      'id' in where
        ? this.db.query<CredentialRecord>(READ_BY_ID, [where.id])
        : this.db.query<CredentialRecord>(READ_BY_CLIENT_IDENTIFIER, [where.clientIdentifier]),
    )
    return rows[0] ?? null
  }
}

/** The shape `findMany/create({ include })` returns, as a CredentialRecord. */
function fromIncluded(record: Prisma.CredentialGetPayload<{ include: typeof include }>): CredentialRecord {
  return {
    ...record,
    scopes: record.scopes.map((scope) => scope.scopeName),
    redirectUris: record.redirectUris.map((redirect) => redirect.uri),
  }
}

const EMPTY_STATE: CredentialState = {
  name: '',
  description: '',
  grantType: '',
  scopes: [],
  serviceId: null,
  logoUri: null,
  redirectUris: [],
}

function applyChanges(state: CredentialState, changes: CredentialChanges): CredentialState {
  const keep = <T>(value: T | undefined, current: T): T => (value === undefined ? current : value)
  return {
    name: keep(changes.name, state.name) ?? '',
    description: keep(changes.description, state.description) ?? '',
    grantType: keep(changes.grantType, state.grantType),
    scopes: changes.scope === undefined ? state.scopes : parseScopes(changes.scope),
    serviceId: keep(changes.serviceId, state.serviceId),
    logoUri: keep(changes.logoUri, state.logoUri),
    redirectUris: keep(changes.redirectUri, state.redirectUris) ?? [],
  }
}

/**
 * A missing service ID sorts as the lowest value, as the original's 0 does: first when
 * ascending, last when descending (PostgreSQL alone would put NULLs first when descending).
 */
function sortBy(field: string, order: 'asc' | 'desc'): Prisma.SortOrder | Prisma.SortOrderInput {
  return field === 'serviceId' ? { sort: order, nulls: order === 'asc' ? 'first' : 'last' } : order
}

function changedFields(before: CredentialState, after: CredentialState): string[] {
  return (Object.keys(FIELD_NAMES) as (keyof CredentialState)[])
    .filter((key) => JSON.stringify(before[key]) !== JSON.stringify(after[key]))
    .map((key) => FIELD_NAMES[key])
}

function columns(state: CredentialState) {
  return {
    name: state.name,
    description: state.description,
    grantType: state.grantType as GrantType,
    serviceId: state.serviceId,
    logoUri: state.logoUri,
  }
}

function toState(record: CredentialRecord): CredentialState {
  return {
    name: record.name,
    description: record.description,
    grantType: record.grantType,
    scopes: record.scopes,
    serviceId: record.serviceId,
    logoUri: record.logoUri,
    redirectUris: record.redirectUris,
  }
}

function viewOfState(state: CredentialState) {
  return { ...state, grantType: state.grantType as GrantType }
}

function toView(record: CredentialRecord): CredentialView {
  return {
    id: record.id,
    clientIdentifier: record.clientIdentifier,
    ...viewOfState(toState(record)),
    version: record.version,
    lastUsedAt: record.lastUsedAt,
    previousSecretExpiresAt: record.previousSecretExpiresAt,
    createdAt: record.createdAt,
    updatedAt: record.updatedAt,
  }
}

async function audit(tx: Tx, credentialId: number, action: string, fields: string[], actor: Actor) {
  // createMany: the same INSERT without reading the row back (RETURNING).
  await tx.auditEvent.createMany({
    data: {
      credentialId,
      action,
      changedFields: fields,
      actor: actor.actor,
      source: actor.source,
      requestId: actor.requestId ?? null,
    },
  })
}
