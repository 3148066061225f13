import { isIP } from 'node:net'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import ipaddr from 'ipaddr.js'
import { metrics, type RateLimitKind } from '../observability/metrics.js'
import { TtlCache } from '../ttl-cache.js'
import { localStore, SharedCounting, type CountStore, type Tally, type Use } from './shared-counting.js'

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

/**
 * What a step of a request is admitted by; the budgets it names are decided together, in one
 * round trip with Redis, in this order: the address's, the identifier's failures, the caller's,
 * the client failures'; then the failures the request makes, unless it was refused.
 */
export interface Admission {
  /** Counts the request against its address; refuses an address over its request budget or out of failures. */
  address?: boolean
  /** The API identifier the caller presents: refused once out of failures (from any address). */
  identifier?: string
  /**
   * Whether `identifier` names an API credential (as far as the checks know). In this process
   * the failures of real identifiers are counted apart from made-up ones, so that a flood of
   * made-up identifiers cannot push a real one's count out of the bounded store.
   */
  identifierExists?: boolean
  /** The API credential that authenticated: the request is counted against its request budget. */
  caller?: string
  /** The caller failed to authenticate (or was refused for its address): it costs the address a failure, and `identifier`'s too when given. */
  failed?: { identifier?: string }
  /**
   * The client secret checked (POST …/authenticate) was wrong: refused when the address or the
   * client is out of client failures, else it costs both one. `exists`: whether `client` names
   * a credential (as for `identifierExists`, real ones are counted apart here). A right secret
   * meets no client budget.
   */
  clientFailed?: { client: string; exists: boolean }
}

/**
 * The limits every endpoint applies, in the order it meets them. The endpoints call these
 * instead of a route-level hook because api.php carries its credentials in the body and
 * answers in the caller's format, and REST reads them from a header. Each call is one decision:
 * with REDIS_URL, one round trip (one script). Calls answered in this process finish before they return.
 */
export interface RequestLimits {
  admit(request: FastifyRequest, admission: Admission): Promise<void> | undefined
  /** A failed authentication or IP refusal: it costs the address (and the identifier, when
   * the secret was wrong) from their much smaller failure budgets. */
  authenticationFailed(request: FastifyRequest, identifier?: string, identifierExists?: boolean): Promise<void> | undefined
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
 * live in Redis with REDIS_URL (src/limits/shared-counting.ts), and in this process otherwise or
 * while Redis does not answer: in a store of @fastify/rate-limit's, an LRU of 5,000 keys per
 * budget (memory stays bounded; the least recently counted key goes first).
 */
interface Budget {
  kind: RateLimitKind
  max: number
  message: string
  local: CountStore
  /** The failures per identifier or client: a store of their own for names that exist nowhere. */
  localMadeUp: CountStore | undefined
}

/**
 * One count a decision asks of a budget (see `Use`): `t` counts and refuses past the maximum,
 * `c` refuses a key that has used its budget up without counting, `s` counts and never
 * refuses, `f` counts a failure unless an earlier count of the decision refused.
 */
interface Ask {
  budget: Budget
  key: string
  use: Use
  /** An identifier or client that does not exist: counted in the budget's `localMadeUp` here. */
  madeUp?: boolean
}

/** Keys come from callers: longer ones than any identifier can have share their prefix's count. */
const KEY_LENGTH = 256

const FAILURES = 'Too many failed authentication attempts. Please try again later.'
/** What an address over its request budget is told; also the contract's example. */
export const TOO_MANY_REQUESTS = 'Too many requests. Please try again later.'

/**
 * The key of an address's budgets: an IPv4 address as it is, also when it came IPv4-mapped to an
 * IPv6 socket; a public IPv6 address by its /64, the block one subscriber or host is given.
 * Anyone holding a /64 can send from 2^64 addresses, each of which would otherwise have budgets
 * of its own. Link-local, unique-local and loopback addresses keep their own: on a private
 * network one /64 holds many hosts (a node's pods, an office LAN).
 */
function addressKey(ip: string): string {
  if (!ip.includes(':')) return ip
  if (ip.startsWith(IPV4_MAPPED) && isIP(ip.slice(IPV4_MAPPED.length)) === 4) return ip.slice(IPV4_MAPPED.length)
  // Not an address (a trusted proxy's header): counted as written, and not kept.
  if (isIP(ip) !== 6) return ip
  let key = ipv6Keys.get(ip)
  if (key === undefined) {
    key = blockOf(ip)
    ipv6Keys.set(ip, key)
  }
  return key
}

/** How Node writes an IPv4 client of an IPv6 socket. */
const IPV4_MAPPED = '::ffff:'
/** Reading an IPv6 address takes about 2 µs: the addresses seen lately keep their /64. */
const ipv6Keys = new TtlCache<string, string>(10 * 60_000, 10_000)

/** Networks whose addresses are budgeted one by one (ipaddr.js's names for them). */
const PRIVATE_RANGES = new Set(['linkLocal', 'uniqueLocal', 'loopback'])

function blockOf(ip: string): string {
  const address = ipaddr.IPv6.parse(ip)
  if (address.isIPv4MappedAddress()) return address.toIPv4Address().toString()
  if (PRIVATE_RANGES.has(address.range())) return address.toNormalizedString()
  return `${address.parts.slice(0, 4).map((part) => part.toString(16)).join(':')}::/64`
}

async function limits(app: FastifyInstance, settings: LimitSettings) {
  const timeWindow = settings.windowSeconds * 1000
  const shared = settings.redis && new SharedCounting(settings.redis.url, settings.redis.timeoutMs, app.log)
  if (shared) app.addHook('onClose', () => shared.close())
  const keyPrefix = settings.redis?.keyPrefix ?? ''

  // Budgets share one Redis: the budget's kind keeps their counts apart.
  const keyOf = (ask: Ask) => `${keyPrefix}${ask.budget.kind}:${localKey(ask)}`
  // In this process each budget has a store of its own: the key alone.
  const localKey = (ask: Ask) => (ask.key.length > KEY_LENGTH ? ask.key.slice(0, KEY_LENGTH) : ask.key)
  /** `madeUpApart`: a per-name budget whose names that exist nowhere are counted in a store of their own here. */
  const budget = (kind: RateLimitKind, max: number, message: string, madeUpApart = false): Budget => ({
    kind,
    max,
    message,
    local: localStore(),
    localMadeUp: madeUpApart ? localStore() : undefined,
  })
  const refuses = (ask: Ask, tally: Tally) =>
    ask.use === 't' ? tally.current > ask.budget.max : ask.use === 'c' && tally.current >= ask.budget.max

  /** The first ask whose tally refuses the request, as the error to throw; undefined: admitted. */
  const verdict = (asks: readonly Ask[], tallies: readonly Tally[]): RateLimited | undefined => {
    for (let index = 0; index < asks.length; index++) {
      const ask = asks[index] as Ask
      const tally = tallies[index] as Tally
      if (!refuses(ask, tally)) continue
      metrics.rateLimited(ask.budget.kind)
      return new RateLimited(Math.max(1, Math.ceil(tally.ttl / 1000)), ask.budget.message)
    }
    return undefined
  }

  /** Counts in this process, in order, as the Redis script does. */
  const countHere = (asks: readonly Ask[]): Tally[] => {
    const tallies: Tally[] = []
    let refused = false
    for (const ask of asks) {
      const look = ask.use === 'c' || (ask.use === 'f' && refused)
      const store = (ask.madeUp && ask.budget.localMadeUp) || ask.budget.local
      store[look ? 'read' : 'incr'](localKey(ask), (_error, tally) => void tallies.push(tally ?? { current: 0, ttl: 0 }), timeWindow, ask.budget.max)
      refused ||= refuses(ask, tallies[tallies.length - 1] as Tally)
    }
    return tallies
  }

  /** Counts every ask at once (one Redis round trip), then refuses with the first budget that says no. */
  const decide = (asks: readonly Ask[]): Promise<void> | undefined => {
    if (!shared?.shared) {
      const refusal = verdict(asks, countHere(asks))
      if (refusal) throw refusal
      return undefined
    }
    return new Promise<void>((resolve, reject) => {
      const keys = asks.map(keyOf)
      shared.decide(keys, asks.map((ask) => ask.use), asks.map((ask) => ask.budget.max), timeWindow, (error, tallies) => {
        // Redis failed: counted here instead, as every request while it does not answer.
        const refusal = verdict(asks, error || !tallies ? countHere(asks) : tallies)
        if (refusal) reject(refusal)
        else resolve()
      })
    })
  }

  const byAddress = budget('address', settings.perIp, TOO_MANY_REQUESTS)
  const byCaller = budget('api_credential', settings.perCredential, 'Too many requests for this API credential. Please try again later.')
  const failuresByAddress = budget('failed_authentications', settings.failedAuthPerIp, FAILURES)
  const failuresByIdentifier = budget('failed_authentications_by_identifier', settings.failedAuthPerIdentifier, FAILURES, true)
  const clientFailuresByAddress = budget('failed_client_authentications', settings.failedClientAuthPerIp, FAILURES)
  const clientFailuresByClient = budget('failed_client_authentications_by_client', settings.failedClientAuthPerClient, FAILURES, true)

  app.decorate('limits', {
    admit(request, { address, identifier, identifierExists, caller, failed, clientFailed }) {
      const asks: Ask[] = []
      const ip = addressKey(request.ip)
      const madeUp = identifierExists !== true
      if (address) asks.push({ budget: failuresByAddress, key: ip, use: 'c' }, { budget: byAddress, key: ip, use: 't' })
      if (identifier) asks.push({ budget: failuresByIdentifier, key: identifier, use: 'c', madeUp })
      if (caller !== undefined) asks.push({ budget: byCaller, key: caller, use: 't' })
      // Only a wrong client secret meets the client budgets. Client identifiers are public (they
      // travel in authorization URLs), so budgets that refused the right secret too would let
      // anyone stop a client's token requests with a few wrong ones. The secrets are 512 random
      // bits: no budget is what stops guessing them; it caps what a flood of wrong ones costs.
      const byClient = clientFailed && { budget: clientFailuresByClient, key: clientFailed.client, madeUp: !clientFailed.exists }
      if (byClient) asks.push({ budget: clientFailuresByAddress, key: ip, use: 'c' }, { ...byClient, use: 'c' })
      if (failed) {
        asks.push({ budget: failuresByAddress, key: ip, use: 'f' })
        if (failed.identifier) asks.push({ budget: failuresByIdentifier, key: failed.identifier, use: 'f', madeUp })
      }
      if (byClient) asks.push({ budget: clientFailuresByAddress, key: ip, use: 'f' }, { ...byClient, use: 'f' })
      return decide(asks)
    },
    authenticationFailed(request, identifier, identifierExists) {
      const asks: Ask[] = [{ budget: failuresByAddress, key: addressKey(request.ip), use: 's' }]
      if (identifier) asks.push({ budget: failuresByIdentifier, key: identifier, use: 's', madeUp: identifierExists !== true })
      return decide(asks)
    },
    sharing: () => shared?.shared ?? false,
  } satisfies RequestLimits)
}

export default fp(limits, { name: 'request-limits' })
