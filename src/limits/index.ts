import type { FastifyInstance, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { metrics, type RateLimitKind } from '../observability/metrics.js'
import { localStore, SharedCounting, type CountStore, type Tally } from './shared-counting.js'

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
  /** Count in Redis, shared by every replica (REDIS_URL); in this process when absent. */
  redis?: { url: string; keyPrefix: string; timeoutMs: number }
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

/** What a step of a request is admitted by; the budgets it names are decided together. */
export interface Admission {
  /** Counts the request against its address; refuses an address over its request budget or out of failures. */
  address?: boolean
  /** The API identifier the caller presents, before its secret is checked: refused once out of failures. */
  identifier?: string
  /** The API credential that authenticated: the request is counted against its request budget. */
  caller?: string
  /**
   * The request goes on to check a client secret (POST …/authenticate): refuses an address out
   * of client failures now, and learns what `admitClient` needs, so that it asks Redis nothing.
   */
  clients?: boolean
}

/**
 * The limits every endpoint applies, in the order it meets them. The endpoints call these
 * instead of a route-level hook because api.php carries its credentials in the body and
 * answers in the caller's format, and REST reads them from a header. Each call is one decision:
 * with REDIS_URL, one round trip. Calls answered in this process finish before they return.
 */
export interface RequestLimits {
  admit(request: FastifyRequest, admission: Admission): Promise<void> | undefined
  /** A failed authentication or IP refusal: it costs the address (and the identifier, when
   * the secret was wrong) from their much smaller failure budgets. */
  authenticationFailed(request: FastifyRequest, identifier?: string): Promise<void> | undefined
  /** Before a client secret is checked: refuses an address or client out of failures. */
  admitClient(request: FastifyRequest, clientIdentifier: string): Promise<void> | undefined
  /** A wrong client secret: it costs the address and the client identifier. */
  clientAuthenticationFailed(request: FastifyRequest, clientIdentifier: string): Promise<void> | undefined
  /** Whether the counts are shared with other replicas now: REDIS_URL is set and Redis answers. */
  sharing(): boolean
}

declare module 'fastify' {
  interface FastifyInstance {
    limits: RequestLimits
  }
}

/**
 * A count per key in fixed windows, with a maximum: the one counter every limit uses. The counts
 * live in a store of @fastify/rate-limit's: in process an LRU of 5,000 keys per budget (memory
 * stays bounded; the least recently counted key goes first), or in Redis with REDIS_URL
 * (src/limits/shared-counting.ts).
 */
interface Budget {
  kind: RateLimitKind
  max: number
  message: string
  store: CountStore
}

/** One count a decision asks of a budget: `take` counts and refuses past the maximum,
 * `check` refuses a key that has used its budget up without counting, `spend` counts and never refuses. */
interface Ask {
  budget: Budget
  key: string
  use: 'take' | 'check' | 'spend'
}

/** Keys come from callers: longer ones than any identifier can have share their prefix's count. */
const KEY_LENGTH = 256

const FAILURES = 'Too many failed authentication attempts. Please try again later.'

async function limits(app: FastifyInstance, settings: LimitSettings) {
  const timeWindow = settings.windowSeconds * 1000
  const shared = settings.redis && new SharedCounting(settings.redis.url, settings.redis.timeoutMs, app.log)
  if (shared) app.addHook('onClose', () => shared.close())
  const keyPrefix = settings.redis?.keyPrefix ?? ''

  // Budgets share one Redis: the budget's kind keeps their counts apart.
  const keyOf = (budget: Budget, key: string) => `${keyPrefix}${budget.kind}:${key.slice(0, KEY_LENGTH)}`
  const budget = (kind: RateLimitKind, max: number, message: string, store = shared ? shared.store() : localStore()): Budget =>
    ({ kind, max, message, store })
  const refused = (budget: Budget, ask: Ask, tally: Tally) =>
    ask.use === 'take' ? tally.current > budget.max : ask.use === 'check' && tally.current >= budget.max

  /** Asks every count at once (one Redis round trip), then refuses with the first budget that says no. */
  const decide = (asks: Ask[]): Promise<void> | undefined => {
    const tallies: Tally[] = []
    let waiting = asks.length
    let failure: Error | null = null
    let settle: (() => void) | undefined
    asks.forEach((ask, index) => {
      const counted = (error: Error | null, tally?: Tally) => {
        failure ??= error
        tallies[index] = tally ?? { current: 0, ttl: 0 }
        if (--waiting === 0) settle?.()
      }
      ask.budget.store[ask.use === 'check' ? 'read' : 'incr'](keyOf(ask.budget, ask.key), counted, timeWindow, ask.budget.max)
    })
    const verdict = () => {
      if (failure) throw failure
      const index = asks.findIndex((ask, at) => refused(ask.budget, ask, tallies[at] as Tally))
      const refusal = asks[index]
      if (!refusal) return
      metrics.rateLimited(refusal.budget.kind)
      throw new RateLimited(Math.max(1, Math.ceil((tallies[index] as Tally).ttl / 1000)), refusal.budget.message)
    }
    if (waiting === 0) {
      verdict()
      return undefined
    }
    return new Promise<void>((resolve, reject) => {
      settle = () => {
        try {
          resolve(verdict())
        } catch (error) {
          reject(error)
        }
      }
    })
  }

  const byAddress = budget('address', settings.perIp, 'Too many requests. Please try again later.')
  const byCaller = budget('api_credential', settings.perCredential, 'Too many requests for this API credential. Please try again later.')
  const failuresByAddress = budget('failed_authentications', settings.failedAuthPerIp, FAILURES)
  const failuresByIdentifier = budget('failed_authentications_by_identifier', settings.failedAuthPerIdentifier, FAILURES)
  const clientFailuresByAddress = budget('failed_client_authentications', settings.failedClientAuthPerIp, FAILURES)
  // Redis lists the clients out of failures, so that `admit` learns them in its round trip.
  const listedClients = shared?.store(`${keyPrefix}used_up:failed_client_authentications_by_client`)
  const clientFailuresByClient = budget('failed_client_authentications_by_client', settings.failedClientAuthPerClient, FAILURES, listedClients)

  /**
   * Requests admitted with `clients`: their address is checked, and with Redis, the clients
   * out of failures then (undefined: ask about the client).
   */
  const clientsAdmitted = new WeakMap<FastifyRequest, Promise<Set<string> | undefined> | undefined>()

  app.decorate('limits', {
    admit(request, { address, identifier, caller, clients }) {
      const asks: Ask[] = []
      if (address) {
        asks.push({ budget: failuresByAddress, key: request.ip, use: 'check' }, { budget: byAddress, key: request.ip, use: 'take' })
      }
      if (identifier) asks.push({ budget: failuresByIdentifier, key: identifier, use: 'check' })
      if (caller !== undefined) asks.push({ budget: byCaller, key: caller, use: 'take' })
      if (clients) {
        asks.push({ budget: clientFailuresByAddress, key: request.ip, use: 'check' })
        clientsAdmitted.set(request, listedClients?.usedUp())
      }
      return decide(asks)
    },
    authenticationFailed(request, identifier) {
      const asks: Ask[] = [{ budget: failuresByAddress, key: request.ip, use: 'spend' }]
      if (identifier) asks.push({ budget: failuresByIdentifier, key: identifier, use: 'spend' })
      return decide(asks)
    },
    admitClient(request, clientIdentifier) {
      const byClient: Ask = { budget: clientFailuresByClient, key: clientIdentifier, use: 'check' }
      if (!clientsAdmitted.has(request)) return decide([{ budget: clientFailuresByAddress, key: request.ip, use: 'check' }, byClient])
      const usedUp = clientsAdmitted.get(request)
      if (usedUp === undefined) return decide([byClient])
      // A client listed as used up is asked about: how long it stays so is its count's to say.
      return usedUp.then((keys) => (keys?.has(keyOf(clientFailuresByClient, clientIdentifier)) === false ? undefined : decide([byClient])))
    },
    clientAuthenticationFailed(request, clientIdentifier) {
      return decide([
        { budget: clientFailuresByAddress, key: request.ip, use: 'spend' },
        { budget: clientFailuresByClient, key: clientIdentifier, use: 'spend' },
      ])
    },
    sharing: () => shared?.shared ?? false,
  } satisfies RequestLimits)
}

export default fp(limits, { name: 'request-limits' })
