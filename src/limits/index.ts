import rateLimit from '@fastify/rate-limit'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { metrics, type RateLimitKind } from '../observability/metrics.js'

/** How many requests, and how many failed authentications, a window allows per key. */
export interface LimitSettings {
  windowSeconds: number
  perCredential: number
  perIp: number
  /** Failed caller authentications (and IP refusals) per address before it is refused outright. */
  failedAuthPerIp: number
  /** Failed authentications per API credential identifier, from any address. */
  failedAuthPerIdentifier: number
  /** Failed client authentications (POST …/authenticate) per address. */
  failedClientAuthPerIp: number
  /** Failed client authentications per client identifier, from any address. */
  failedClientAuthPerClient: number
}

/** A request over one of the limits. Each endpoint answers it in its own shape, with Retry-After. */
export class RateLimited extends Error {
  constructor(
    readonly retryAfterSeconds: number,
    message: string,
  ) {
    super(message)
    this.name = 'RateLimited'
  }
}

/**
 * The limits every endpoint applies, in the order it meets them. The endpoints call these
 * instead of a route-level hook because api.php carries its credentials in the body and
 * answers in the caller's format, and REST reads them from a header.
 */
export interface RequestLimits {
  /** Before authentication: counts the request against its address, and refuses an address
   * that is over its request budget or has used up its failed authentications. */
  admitAddress(request: FastifyRequest): Promise<void>
  /** Before a secret is checked: refuses an identifier that has used up its failures. */
  admitIdentifier(request: FastifyRequest, identifier: string): Promise<void>
  /** A failed authentication or IP refusal: it costs the address (and the identifier, when
   * the secret was wrong) from their much smaller failure budgets. */
  authenticationFailed(request: FastifyRequest, identifier?: string): Promise<void>
  /** After authentication: counts the request against the API credential that made it. */
  admitCaller(request: FastifyRequest, identifier: string): Promise<void>
  /** Before a client secret is checked: refuses an address or client out of failures. */
  admitClient(request: FastifyRequest, clientIdentifier: string): Promise<void>
  /** A wrong client secret: it costs the address and the client identifier. */
  clientAuthenticationFailed(request: FastifyRequest, clientIdentifier: string): Promise<void>
}

declare module 'fastify' {
  interface FastifyInstance {
    limits: RequestLimits
  }
}

/**
 * A count per key in fixed windows, with a maximum: the one counter interface every limit
 * uses. The counts live in @fastify/rate-limit's store, one per budget: in process an LRU of
 * 5,000 keys, the plugin's default (memory stays bounded; the least recently counted key goes
 * first); that plugin's `redis` option would move every budget to Redis unchanged.
 */
interface Budget {
  /** Counts one; refuses once the count is past the maximum. */
  take(request: FastifyRequest, key: string): Promise<void>
  /** Refuses when the key has used up its budget, without counting. */
  check(request: FastifyRequest, key: string): Promise<void>
  /** Counts one that was already answered (a failure); never refuses. */
  spend(request: FastifyRequest, key: string): Promise<void>
}

/** Keys come from callers: longer ones than any identifier can have share their prefix's count. */
const KEY_LENGTH = 256

const FAILURES = 'Too many failed authentication attempts. Please try again later.'

async function limits(app: FastifyInstance, settings: LimitSettings) {
  const timeWindow = settings.windowSeconds * 1000
  await app.register(rateLimit, { global: false, timeWindow })

  const budget = (kind: RateLimitKind, max: number, message: string): Budget => {
    // The limiter asks the request for its key; each budget keeps the key it was given.
    const keys = new WeakMap<FastifyRequest, string>()
    const limiter = app.createRateLimit({ max, timeWindow, keyGenerator: (request) => keys.get(request) ?? '' })
    const count = async (request: FastifyRequest, key: string, increment: boolean) => {
      keys.set(request, key.slice(0, KEY_LENGTH))
      return limiter(request, { increment })
    }
    const refused = (ttlInSeconds: number) => {
      metrics.rateLimited(kind)
      return new RateLimited(Math.max(1, ttlInSeconds), message)
    }
    return {
      async take(request, key) {
        const state = await count(request, key, true)
        if (!state.isAllowed && state.isExceeded) throw refused(state.ttlInSeconds)
      },
      async check(request, key) {
        const state = await count(request, key, false)
        if (!state.isAllowed && state.remaining === 0) throw refused(state.ttlInSeconds)
      },
      async spend(request, key) {
        await count(request, key, true)
      },
    }
  }

  const byAddress = budget('address', settings.perIp, 'Too many requests. Please try again later.')
  const byCaller = budget('api_credential', settings.perCredential, 'Too many requests for this API credential. Please try again later.')
  const failuresByAddress = budget('failed_authentications', settings.failedAuthPerIp, FAILURES)
  const failuresByIdentifier = budget('failed_authentications_by_identifier', settings.failedAuthPerIdentifier, FAILURES)
  const clientFailuresByAddress = budget('failed_client_authentications', settings.failedClientAuthPerIp, FAILURES)
  const clientFailuresByClient = budget('failed_client_authentications_by_client', settings.failedClientAuthPerClient, FAILURES)

  app.decorate('limits', {
    async admitAddress(request) {
      await failuresByAddress.check(request, request.ip)
      await byAddress.take(request, request.ip)
    },
    async admitIdentifier(request, identifier) {
      await failuresByIdentifier.check(request, identifier)
    },
    async authenticationFailed(request, identifier) {
      await failuresByAddress.spend(request, request.ip)
      if (identifier) await failuresByIdentifier.spend(request, identifier)
    },
    async admitCaller(request, identifier) {
      await byCaller.take(request, identifier)
    },
    async admitClient(request, clientIdentifier) {
      await clientFailuresByAddress.check(request, request.ip)
      await clientFailuresByClient.check(request, clientIdentifier)
    },
    async clientAuthenticationFailed(request, clientIdentifier) {
      await clientFailuresByAddress.spend(request, request.ip)
      await clientFailuresByClient.spend(request, clientIdentifier)
    },
  } satisfies RequestLimits)
}

export default fp(limits, { name: 'request-limits' })
