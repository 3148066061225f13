import { createHash, timingSafeEqual } from 'node:crypto'
import type { FastifyRequest } from 'fastify'
import { ipAllowed, mayRun, refusals, secretAccepted, type Action, type ApiClient } from '../api-clients/access.js'
import type { ApiClientService } from '../api-clients/service.js'
import type { ApiCredentialAccess } from '../api-clients/storage.js'
import type { Admission, RequestLimits } from '../limits/index.js'
import { metrics, type AuthenticationFailure, type Edge } from '../observability/metrics.js'
import { setActor } from './request-log.js'

/** Why a caller was turned away; each edge answers it in its own shape. */
export type RefusalReason = AuthenticationFailure | 'permission'

export class AccessRefused extends Error {
  constructor(
    readonly reason: RefusalReason,
    message: string,
  ) {
    super(message)
    this.name = 'AccessRefused'
  }
}

/** What a caller presented, however its edge carries it, and what the checks found so far. */
export interface AccessAttempt {
  request: FastifyRequest
  identifier: string
  secret: string
  /** api.php's `accesskey`: lets a caller past its IP allow-list when it matches API_ACCESS_KEY. */
  accessKey?: string
  /** The action whose permission is checked. */
  action: string
  /** The API credential named by `identifier`, once looked up (null: there is none). */
  found?: ApiCredentialAccess | null
  /** Whether `found` was answered from memory: counted in the cache's metrics once the caller is let in. */
  fromMemory?: boolean
  /** The caller, once its secret has been checked. */
  client?: ApiClient
}

/** One check; it finishes before it returns when it needs no I/O. */
export type AccessCheck = (attempt: AccessAttempt) => Promise<void> | undefined | void

/**
 * The checks a caller passes before an action runs. Both edges run these same checks; each
 * chooses their order (api.php keeps the original's) and answers a refusal in its own shape.
 */
export function accessChecks(apiClients: ApiClientService, limits: RequestLimits, configuredAccessKey?: string) {
  /** The caller's API credential when it is known without reading (null: there is none); undefined: it must be read. */
  const recall = (attempt: AccessAttempt) => {
    if (attempt.found !== undefined) return attempt.found
    const remembered = attempt.identifier === '' ? null : apiClients.remembered(attempt.identifier)
    if (remembered !== undefined) {
      attempt.found = remembered
      attempt.fromMemory = true
    }
    return remembered
  }
  const lookUp = async (attempt: AccessAttempt) => {
    const recalled = recall(attempt)
    if (recalled !== undefined) return recalled
    attempt.fromMemory = false
    attempt.found = await apiClients.find(attempt.identifier)
    return attempt.found
  }
  // Only a caller let in (its secret accepted, from an address its allow-list takes) moves the
  // hit and miss counts: /metrics tells an outsider nothing of which identifiers exist or are in use.
  const countLookUp = (attempt: AccessAttempt) => metrics.authCacheLookup('api_credential', attempt.fromMemory === true)
  // Every failure costs the address; a wrong secret costs the identifier it was tried on too.
  const authenticationFailed = async (attempt: AccessAttempt, reason: AuthenticationFailure, message: string, identifier?: string) => {
    metrics.authenticationFailed(edgeOf(attempt.request), reason)
    await limits.authenticationFailed(attempt.request, identifier, Boolean(attempt.found))
    return new AccessRefused(reason, message)
  }
  const accept = (attempt: AccessAttempt, found: ApiCredentialAccess) => {
    setActor(attempt.request, found.identifier)
    attempt.client = { identifier: found.identifier, permissions: found.permissions, allowedIps: found.allowedIps }
  }
  const caller = (attempt: AccessAttempt): ApiClient => {
    if (attempt.client === undefined) throw new Error('access check ordered before authentication')
    return attempt.client
  }

  /** REST's checks on the API credential `found` for the identifier presented (see `restAccess`). */
  const judgeRest = (attempt: AccessAttempt, found: ApiCredentialAccess | null, defer: boolean) => {
    const { request, identifier } = attempt
    const admission: Admission = { address: true, identifier, identifierExists: found !== null }
    if (!secretAccepted(found, attempt.secret)) {
      admission.failed = { identifier }
      return decideRest(attempt, admission, new AccessRefused('failed', refusals.failed))
    }
    accept(attempt, found)
    admission.caller = found.identifier
    if (!ipAllowed(found, request.ip)) {
      // A refusal tells a prober that the identifier exists, so it costs like a failure.
      admission.failed = {}
      return decideRest(attempt, admission, new AccessRefused('address', refusals.address(request.ip)))
    }
    countLookUp(attempt)
    if (!mayRun(found, attempt.action)) return decideRest(attempt, admission, new AccessRefused('permission', refusals.permission(attempt.action)))
    return defer ? admission : decideRest(attempt, admission)
  }
  /** The request's one decision; then the refusal the checks found, unless a budget refused first. */
  const decideRest = (attempt: AccessAttempt, admission: Admission, refusal?: AccessRefused): undefined | Promise<undefined> => {
    const refuse = (): undefined => {
      if (refusal === undefined) return undefined
      if (refusal.reason !== 'permission') metrics.authenticationFailed(edgeOf(attempt.request), refusal.reason)
      throw refusal
    }
    const pending = limits.admit(attempt.request, admission)
    return pending ? pending.then(refuse) : refuse()
  }

  return {
    /** Counts the request against its address, and refuses an address over its budgets. */
    admitAddress: ((attempt) => limits.admit(attempt.request, { address: true })) satisfies AccessCheck,

    /** Before the secret is checked: refuses an identifier out of failures (from any address). */
    admitIdentifier: ((attempt) =>
      limits.admit(attempt.request, { identifier: attempt.identifier, identifierExists: Boolean(attempt.found) })) satisfies AccessCheck,

    /**
     * REST's checks, where the identifier and secret come with the request (HTTP Basic): the
     * caller's API credential (from memory, or the database), its secret, its IP allow-list
     * and its permission are checked first, then every budget of the request is one decision
     * (one round trip to Redis), the failure the checks found included: the address's, the
     * identifier's failures and the caller's. A locked address or identifier is refused (429)
     * whatever the checks found, and a refused request costs no failure; otherwise the
     * failure answers as it would have.
     * `defer`: the request goes on to check a client secret (POST …/authenticate), whose
     * budgets join the decision: an admitted caller gets its admission back, to decide then.
     */
    restAccess: (attempt: AccessAttempt, defer: boolean): Admission | undefined | Promise<Admission | undefined> => {
      const { identifier, secret } = attempt
      if (identifier === '' || secret === '') {
        // Not looked up: whether the identifier exists is known only when it is remembered.
        const identifierExists = identifier !== '' && Boolean(apiClients.remembered(identifier))
        const admission: Admission = { address: true, identifier: identifier === '' ? undefined : identifier, identifierExists, failed: {} }
        return decideRest(attempt, admission, new AccessRefused('missing', refusals.missing))
      }
      // A remembered caller is judged before this returns; otherwise once read.
      const recalled = recall(attempt)
      if (recalled !== undefined) return judgeRest(attempt, recalled, defer)
      return lookUp(attempt).then((found) => judgeRest(attempt, found, defer))
    },

    /**
     * The caller's IP allow-list. As in the original, an access key is consulted only for an
     * address the list refuses: callers that always send one keep working from allowed ones.
     * A refusal tells a prober that the identifier exists, so it costs like a failure.
     */
    allowList: (async (attempt) => {
      const found = await lookUp(attempt)
      const ip = attempt.request.ip
      if (!found || ipAllowed(found, ip)) return
      if (attempt.accessKey === undefined) throw await authenticationFailed(attempt, 'address', refusals.address(ip))
      if (!sameText(attempt.accessKey, configuredAccessKey)) {
        throw await authenticationFailed(attempt, 'accessKey', refusals.accessKey)
      }
    }) satisfies AccessCheck,

    /** Identifier and secret; an admission (above) has refused identifiers out of failures. */
    authenticate: (async (attempt) => {
      if (attempt.identifier === '' || attempt.secret === '') {
        throw await authenticationFailed(attempt, 'missing', refusals.missing)
      }
      const found = await lookUp(attempt)
      if (!secretAccepted(found, attempt.secret)) {
        throw await authenticationFailed(attempt, 'failed', refusals.failed, attempt.identifier)
      }
      accept(attempt, found)
      // api.php checks the allow-list first (allowList, above), as the original does.
      countLookUp(attempt)
    }) satisfies AccessCheck,

    /** Counts the request against the API credential that made it. */
    admitCaller: ((attempt) => limits.admit(attempt.request, { caller: caller(attempt).identifier })) satisfies AccessCheck,

    permission: ((attempt) => requirePermission(caller(attempt), attempt.action)) satisfies AccessCheck,
  }
}

export type AccessChecks = ReturnType<typeof accessChecks>

/** Refuses a caller that may not run `action`. */
function requirePermission(client: ApiClient, action: string): void {
  if (!mayRun(client, action)) throw new AccessRefused('permission', refusals.permission(action))
}

/**
 * Issuing a new client secret is rotating it, whichever operation asks (PATCH's or api.php's
 * resetSecret, POST …/secret): it needs the rotate permission everywhere.
 */
export function requireSecretIssuing(client: ApiClient): void {
  requirePermission(client, 'RotateOAuthCredentialSecret' satisfies Action)
}

/** Runs the checks in order; answers with the authenticated caller. */
export async function checkAccess(attempt: AccessAttempt, checks: readonly AccessCheck[]): Promise<ApiClient> {
  for (const check of checks) {
    const pending = check(attempt)
    if (pending) await pending
  }
  if (attempt.client === undefined) throw new Error('access checks without authentication')
  return attempt.client
}

/** api.php is the legacy edge; every other route that checks access is REST. */
function edgeOf(request: FastifyRequest): Edge {
  return request.routeOptions.url?.startsWith('/includes/') ? 'legacy' : 'rest'
}

/** Compares in constant time, whatever the lengths. */
function sameText(given: string, expected: string | undefined): boolean {
  const digest = (value: string) => createHash('sha256').update(value).digest()
  return expected !== undefined && timingSafeEqual(digest(given), digest(expected))
}
