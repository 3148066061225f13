import { metrics } from '../observability/metrics.js'
import { generateSecret, hashSecret, secretMatches } from '../secrets.js'
import {
  AUDIT_FIELD_NAMES,
  isRowNumber,
  type Actor,
  type AuditEvent,
  type Credential,
  type CredentialChanges,
  type CredentialFields,
  type CredentialReference,
  type GrantType,
  type StoredCredential,
} from './credential.js'
import { credentialNotFound, CredentialError, messages } from './errors.js'
import { RecentlyRead } from '../recently-read.js'
import { assertValidCredential, hasNul, type CredentialDraft } from './rules.js'
import type { CredentialChangeStorage, CredentialStorage, SecretColumns, SortField } from './storage.js'

export interface Precondition {
  /** Refuse the change unless the stored version is one of these (REST If-Match). */
  expectedVersions?: readonly number[]
}

export interface UpdateOptions extends Precondition {
  resetSecret?: boolean
  /** Validate and return the would-be credential, writing nothing. */
  dryRun?: boolean
}

export interface ListQuery {
  /** The edges parse the filter into a grant type with their own wire's message. */
  grantType?: GrantType
  clientIdentifier?: string
  sort?: { field: SortField; order: 'asc' | 'desc' }
  limit?: number
  /** Cursor: only credentials with a greater id (ascending id order). */
  afterId?: number
}

/** How many credentials one list answers at most, and when the caller does not say. */
export const LIST_LIMIT = { default: 100, max: 1000 } as const
/** The order of a list when the caller names none; api.php names the field and the order apart. */
export const DEFAULT_SORT = { field: 'credentialId', order: 'asc' } as const
export const MAX_GRACE_SECONDS = 7 * 24 * 3600

/**
 * Long enough that a busy client authenticates from memory; short, in case a notification is
 * lost with the connection still up (a half-open network). Bounded, as any client may send
 * identifiers.
 */
const RECENTLY_READ = { ttlMs: 5_000, maxEntries: 10_000 }
/**
 * Optimistic writes before a writer waits for its turn (the credential's row lock) instead:
 * the cheap path for the usual case, no writer turned away when many change one credential.
 */
const OPTIMISTIC_ATTEMPTS = 3
/** What a writer that could not write is told (rare: see `change`). */
const RETRY_AFTER_SECONDS = 1
/** lastUsedAt is recorded at most once a minute, so a busy client does not write on every authentication. */
const LAST_USED_RESOLUTION_MS = 60_000

/** A write found the credential changed since it was read. */
const STALE = Symbol('stale')

const EMPTY: CredentialDraft = {
  name: '',
  description: '',
  grantType: '',
  scopes: [],
  serviceId: null,
  logoUri: null,
  redirectUris: [],
}

/**
 * The one place where OAuth client credentials are created, read, changed and removed. Every
 * edge (legacy api.php, REST) calls it; it validates the credential as it would be
 * stored, then has storage write the change and its audit event atomically, and only onto the
 * state it validated (see `change`).
 */
export class CredentialService {
  #catalogue: Promise<ReadonlySet<string>> | undefined
  /** What authentication read, by client identifier (see RecentlyRead). */
  readonly #recent: RecentlyRead<StoredCredential>
  /** What `recordUse` answered for a stored credential, while its lastUsedAt stays. */
  readonly #answers = new WeakMap<StoredCredential, Credential>()

  constructor(
    private readonly storage: CredentialStorage,
    private readonly clientIdentifierPrefix: string,
    /** How long a writer waits for its turn (DATABASE_TIMEOUT_MS). */
    private readonly turnWaitMs: number,
  ) {
    const watch = storage.watchChanges((clientIdentifier) => this.#recent.forget(clientIdentifier))
    this.#recent = new RecentlyRead(watch, RECENTLY_READ.ttlMs, RECENTLY_READ.maxEntries)
  }

  /** Whether authentication may answer from memory now (changes by other processes are heard). */
  get remembering(): boolean {
    return this.#recent.live
  }

  /** The scope catalogue, read once: it changes only through migrations. */
  scopeCatalogue(): Promise<ReadonlySet<string>> {
    this.#catalogue ??= this.storage.scopeNames().then((names) => new Set(names))
    this.#catalogue.catch(() => (this.#catalogue = undefined))
    return this.#catalogue
  }

  async create(input: CredentialChanges, actor: Actor): Promise<{ credential: Credential; clientSecret: string }> {
    const fields = applyChanges(EMPTY, input)
    assertValidCredential(fields, await this.scopeCatalogue())
    const clientSecret = generateSecret()
    const clientIdentifier = `${this.clientIdentifierPrefix}.${generateSecret(16)}`
    const at = new Date()
    const credentialId = await this.storage.insert(
      { ...fields, clientIdentifier, secretHash: hashSecret(clientSecret) },
      { actor, action: 'create', changedFields: changedFields(EMPTY, fields), at },
    )
    metrics.credentialChanged('create', actor.source)
    const credential: Credential = {
      credentialId,
      clientIdentifier,
      ...fields,
      version: 1,
      lastUsedAt: null,
      previousSecretExpiresAt: null,
      createdAt: at,
      updatedAt: at,
    }
    return { credential, clientSecret }
  }

  async get(reference: CredentialReference): Promise<Credential> {
    return withoutSecrets(await this.find(reference))
  }

  async list(query: ListQuery = {}): Promise<Credential[]> {
    if (query.clientIdentifier !== undefined && hasNul(query.clientIdentifier)) return []
    const limit = Math.min(Math.max(1, Math.trunc(query.limit ?? LIST_LIMIT.default)), LIST_LIMIT.max)
    const found = await this.storage.list({
      grantType: query.grantType,
      clientIdentifier: query.clientIdentifier,
      afterId: query.afterId,
      sort: query.sort ?? DEFAULT_SORT,
      limit,
    })
    return found.map(withoutSecrets)
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
  ): Promise<{ credential: Credential; newClientSecret?: string }> {
    const catalogue = await this.scopeCatalogue()
    return this.change(reference, options, async (current, storage) => {
      const after = applyChanges(current, changes)
      assertValidCredential(after, catalogue, current)
      const fields = changedFields(current, after)
      if (options.resetSecret) fields.push('clientSecret')
      if (options.dryRun) return { credential: withoutSecrets({ ...current, ...after }) }
      if (fields.length === 0) return { credential: withoutSecrets(current) }
      const newClientSecret = options.resetSecret ? generateSecret() : undefined
      const secret = newClientSecret === undefined ? secretColumns(current) : freshSecret(newClientSecret)
      const credential = await this.write(storage, current, after, secret, 'update', fields, actor)
      if (credential === STALE) return STALE
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
    precondition: Precondition = {},
  ): Promise<{ credential: Credential; clientSecret: string }> {
    if (!Number.isInteger(graceSeconds) || graceSeconds < 0 || graceSeconds > MAX_GRACE_SECONDS) {
      throw new CredentialError('invalid', messages.graceSecondsInvalid(MAX_GRACE_SECONDS), 'graceSeconds')
    }
    return this.change(reference, precondition, async (current, storage) => {
      const graceEnds = current.previousSecretExpiresAt
      if (graceSeconds > 0 && graceEnds !== null && graceEnds > new Date()) {
        const retryAfter = Math.ceil((graceEnds.getTime() - Date.now()) / 1000)
        throw new CredentialError('conflict', messages.rotationInProgress(graceEnds.toISOString()), 'graceSeconds', retryAfter)
      }
      const clientSecret = generateSecret()
      const secret: SecretColumns =
        graceSeconds > 0
          ? {
              secretHash: hashSecret(clientSecret),
              previousSecretHash: current.secretHash,
              previousSecretExpiresAt: new Date(Date.now() + graceSeconds * 1000),
            }
          : freshSecret(clientSecret)
      const credential = await this.write(storage, current, current, secret, 'rotate_secret', ['clientSecret'], actor)
      return credential === STALE ? STALE : { credential, clientSecret }
    })
  }

  async delete(reference: CredentialReference, actor: Actor, precondition: Precondition = {}): Promise<Credential> {
    return this.change(reference, precondition, async (current, storage) => {
      const audit = { actor, action: 'delete', at: new Date() }
      const deleted = await storage.remove({ credentialId: current.credentialId, readVersion: current.version }, audit)
      if (!deleted) return STALE
      metrics.credentialChanged('delete', actor.source)
      return withoutSecrets(current)
    })
  }

  /**
   * Checks a client's secret (or its previous one, during a rotation's grace period). This is
   * what an authorization server calls, since secrets are only stored hashed.
   */
  async authenticate(clientIdentifier: string, clientSecret: string): Promise<Credential | null> {
    const checked = await this.checkSecret(clientIdentifier, clientSecret)
    return checked ? this.recordUse(checked) : null
  }

  /**
   * The first half of `authenticate`: the credential whose secret (or previous secret, during
   * its grace period) `clientSecret` is; null when the client has another secret, undefined
   * when there is no such client (the rate limits keep the two apart). Its use is not recorded
   * yet (`recordUse`).
   */
  checkSecret(clientIdentifier: string, clientSecret: string): SecretCheck | Promise<SecretCheck> {
    if (hasNul(clientIdentifier)) return undefined
    // A remembered client is checked before this returns. Every look-up counts, a wrong secret's too.
    const kept = this.#recent.remembered(clientIdentifier)
    metrics.authCacheLookup('client_credential', kept !== undefined)
    if (kept !== undefined) return matching(kept, clientSecret)
    return this.#recent
      .get(clientIdentifier, () => this.storage.findByClientIdentifier(clientIdentifier))
      .then((stored) => matching(stored, clientSecret))
  }

  /**
   * The second half of `authenticate`: records lastUsedAt (at most once a minute), answers the
   * credential. While the stored credential stays as it is (until its lastUsedAt moves, or it
   * changes and is read again), the answer is the same frozen object, so that an edge may keep
   * what it made of it (REST: the serialized answer). Finishes before it returns when there is
   * nothing to record.
   */
  recordUse(stored: StoredCredential): Credential | Promise<Credential> {
    const now = Date.now()
    if (stored.lastUsedAt === null || now - stored.lastUsedAt.getTime() >= LAST_USED_RESOLUTION_MS) {
      const at = new Date(now)
      return this.storage.touchLastUsed(stored.credentialId, at).then(() => {
        stored.lastUsedAt = at
        this.#answers.delete(stored)
        return this.#answerFor(stored)
      })
    }
    return this.#answerFor(stored)
  }

  #answerFor(stored: StoredCredential): Credential {
    let answer = this.#answers.get(stored)
    if (answer === undefined) {
      answer = Object.freeze(withoutSecrets(stored))
      this.#answers.set(stored, answer)
    }
    return answer
  }

  /**
   * The audit trail of one credential, newest first; it outlives the credential. A first page
   * with no events at all means there never was one: not found.
   */
  async events(credentialId: number, page: { limit: number; beforeId?: number }): Promise<AuditEvent[]> {
    if (!isRowNumber(credentialId)) throw credentialNotFound()
    const events = await this.storage.events(credentialId, page)
    if (events.length === 0 && page.beforeId === undefined) await this.get({ credentialId })
    return events
  }

  /**
   * Optimistic concurrency: reads the credential, lets `attempt` decide and write, and when
   * the write finds the credential changed since the read (STALE), reads and decides again.
   * Each attempt is one read and one write statement; no transaction stays open while the
   * service decides, and every decision is made on the state it overwrites, the precondition
   * included. After a few misses the writer waits for its turn instead (storage.inTurn: the
   * row lock), where its write cannot miss, so many writers of one credential all get through.
   */
  private async change<T>(
    reference: CredentialReference,
    precondition: Precondition,
    attempt: (current: StoredCredential, storage: CredentialChangeStorage) => Promise<T | typeof STALE>,
  ): Promise<T> {
    let credentialId = 0
    for (let tries = 0; tries < OPTIMISTIC_ATTEMPTS; tries++) {
      const outcome = await this.attemptOn(this.storage, reference, precondition, attempt)
      if (outcome.result !== STALE) return outcome.result
      credentialId = outcome.credentialId
      metrics.writeRetried()
    }
    const turn = await this.storage.inTurn(credentialId, this.turnWaitMs, (locked) =>
      this.attemptOn(locked, { credentialId }, precondition, attempt),
    )
    // No turn in time, or a write that missed even under the lock (only a trigger could do that).
    if (turn === null || turn.result === STALE) {
      throw new CredentialError('conflict', messages.tooManyConcurrentChanges, undefined, RETRY_AFTER_SECONDS)
    }
    return turn.result
  }

  private async attemptOn<T>(
    storage: CredentialChangeStorage,
    reference: CredentialReference,
    { expectedVersions }: Precondition,
    attempt: (current: StoredCredential, storage: CredentialChangeStorage) => Promise<T | typeof STALE>,
  ): Promise<{ result: T | typeof STALE; credentialId: number }> {
    const current = await this.find(reference, storage)
    if (expectedVersions !== undefined && !expectedVersions.includes(current.version)) {
      throw new CredentialError('precondition_failed', messages.versionMismatch)
    }
    try {
      return { result: await attempt(current, storage), credentialId: current.credentialId }
    } finally {
      // Forgotten here as well as on the database's notification (even when the write's
      // answer was lost): this process's next authentication must see any change at once.
      this.#recent.forget(current.clientIdentifier)
    }
  }

  /**
   * Writes `fields` and `secret` over `current`, with an audit event, unless the credential
   * changed since it was read. Answers with the credential as stored, without reading it back.
   */
  private async write(
    storage: CredentialChangeStorage,
    current: StoredCredential,
    fields: CredentialFields,
    secret: SecretColumns,
    action: string,
    changed: string[],
    actor: Actor,
  ): Promise<Credential | typeof STALE> {
    const at = new Date()
    // Lists are rewritten only when they changed.
    const listChanged = (key: 'scopes' | 'redirectUris') => changed.includes(AUDIT_FIELD_NAMES[key])
    const version = await storage.write(
      {
        credentialId: current.credentialId,
        readVersion: current.version,
        ...fields,
        ...secret,
        scopes: listChanged('scopes') ? fields.scopes : null,
        redirectUris: listChanged('redirectUris') ? fields.redirectUris : null,
      },
      { actor, action, changedFields: changed, at },
    )
    if (version === null) return STALE
    metrics.credentialChanged(action, actor.source)
    return withoutSecrets({ ...current, ...fields, ...secret, version, updatedAt: at })
  }

  private async find(reference: CredentialReference, storage: CredentialChangeStorage = this.storage): Promise<StoredCredential> {
    const { credentialId, clientIdentifier } = reference
    // Made only when needed: an Error captures a stack trace, which costs on every request.
    let notFound: () => CredentialError
    let found: Promise<StoredCredential | null>
    if (credentialId !== undefined && credentialId > 0) {
      notFound = credentialNotFound
      if (!isRowNumber(credentialId)) throw notFound()
      found = storage.findById(credentialId)
    } else if (clientIdentifier) {
      notFound = () => new CredentialError('not_found', messages.clientIdentifierInvalid, 'clientIdentifier')
      if (hasNul(clientIdentifier)) throw notFound()
      found = storage.findByClientIdentifier(clientIdentifier)
    } else {
      throw new CredentialError('invalid', messages.referenceRequired, 'credentialId')
    }
    const stored = await found
    if (!stored) throw notFound()
    return stored
  }
}

/** The fields after a change: left out keeps, `null` clears; scopes given twice count once. */
function applyChanges(current: CredentialDraft, changes: CredentialChanges): CredentialDraft {
  const pick = <K extends keyof CredentialDraft>(key: K, cleared: CredentialDraft[K]): CredentialDraft[K] => {
    const value = changes[key]
    return value === undefined ? current[key] : ((value ?? cleared) as CredentialDraft[K])
  }
  return {
    name: pick('name', ''),
    description: pick('description', ''),
    grantType: pick('grantType', ''),
    scopes: [...new Set(pick('scopes', []))],
    serviceId: pick('serviceId', null),
    logoUri: pick('logoUri', null),
    redirectUris: pick('redirectUris', []),
  }
}

function changedFields(before: CredentialDraft, after: CredentialDraft): string[] {
  return (Object.keys(AUDIT_FIELD_NAMES) as (keyof CredentialDraft)[])
    .filter((key) => JSON.stringify(before[key]) !== JSON.stringify(after[key]))
    .map((key) => AUDIT_FIELD_NAMES[key])
}

function secretColumns({ secretHash, previousSecretHash, previousSecretExpiresAt }: StoredCredential): SecretColumns {
  return { secretHash, previousSecretHash, previousSecretExpiresAt }
}

/** A new secret that replaces every older one at once. */
function freshSecret(secret: string): SecretColumns {
  return { secretHash: hashSecret(secret), previousSecretHash: null, previousSecretExpiresAt: null }
}

/** What checking a client secret found: the credential, a wrong secret (null) or no such client (undefined). */
export type SecretCheck = StoredCredential | null | undefined

/** `stored` when `clientSecret` is its secret, or its previous one during the grace period. */
function matching(stored: StoredCredential | null, clientSecret: string): SecretCheck {
  // Hashed for an unknown client too, so that it takes as long as a wrong secret.
  const current = secretMatches(clientSecret, stored?.secretHash)
  if (stored === null) return undefined
  const previous =
    stored.previousSecretExpiresAt != null &&
    stored.previousSecretExpiresAt.getTime() > Date.now() &&
    secretMatches(clientSecret, stored.previousSecretHash)
  return current || previous ? stored : null
}

function withoutSecrets(stored: StoredCredential): Credential {
  const { secretHash, previousSecretHash, ...credential } = stored
  return credential
}
