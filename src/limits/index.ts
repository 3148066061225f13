import rateLimit from '@fastify/rate-limit'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { metrics, type RateLimitKind } from '../observability/metrics.js'

/** How many requests a window allows, per API credential and per client address. */
export interface LimitSettings {
  windowSeconds: number
  perCredential: number
  perIp: number
  /** Failed authentications an address may make in a window before it is refused outright. */
  failedAuthPerIp: number
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
  /** A failed authentication: it costs the address from its much smaller failure budget. */
  authenticationFailed(request: FastifyRequest): Promise<void>
  /** After authentication: counts the request against the API credential that made it. */
  admitCaller(request: FastifyRequest, identifier: string): Promise<void>
}

declare module 'fastify' {
  interface FastifyInstance {
    limits: RequestLimits
  }
}

type Limiter = ReturnType<FastifyInstance['createRateLimit']>

async function limits(app: FastifyInstance, settings: LimitSettings) {
  const timeWindow = settings.windowSeconds * 1000
  await app.register(rateLimit, { global: false, timeWindow })
  // One store per limiter: the same key (an address) is counted separately by each.
  const callerKeys = new WeakMap<FastifyRequest, string>()
  const byAddress = app.createRateLimit({ max: settings.perIp, timeWindow, keyGenerator: (request) => request.ip })
  const failuresByAddress = app.createRateLimit({
    max: settings.failedAuthPerIp,
    timeWindow,
    keyGenerator: (request) => request.ip,
  })
  const byCaller = app.createRateLimit({
    max: settings.perCredential,
    timeWindow,
    keyGenerator: (request) => callerKeys.get(request) ?? '',
  })

  const refuseWhen = async (limiter: Limiter, kind: RateLimitKind, request: FastifyRequest, message: string, count = true) => {
    const state = await limiter(request, { increment: count })
    if (state.isAllowed) return
    // Counting: refused once over the maximum. Only looking (failures): refused once it is used up.
    if (count ? state.isExceeded : state.remaining === 0) {
      metrics.rateLimited(kind)
      throw new RateLimited(Math.max(1, state.ttlInSeconds), message)
    }
  }

  app.decorate('limits', {
    async admitAddress(request) {
      await refuseWhen(failuresByAddress, 'failed_authentications', request, 'Too many failed authentication attempts. Please try again later.', false)
      await refuseWhen(byAddress, 'address', request, 'Too many requests. Please try again later.')
    },
    async authenticationFailed(request) {
      await failuresByAddress(request)
    },
    async admitCaller(request, identifier) {
      callerKeys.set(request, identifier)
      await refuseWhen(byCaller, 'api_credential', request, 'Too many requests for this API credential. Please try again later.')
    },
  } satisfies RequestLimits)
}

export default fp(limits, { name: 'request-limits' })
