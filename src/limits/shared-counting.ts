import LocalStore from '@fastify/rate-limit/store/LocalStore.js'
import RedisStore from '@fastify/rate-limit/store/RedisStore.js'
import type { FastifyBaseLogger } from 'fastify'
import { Redis } from 'ioredis'
import { metrics } from '../observability/metrics.js'

/** Keys of the in-process count per budget: the plugin's own default, so memory stays bounded. */
const LOCAL_KEYS = 5_000
/** How often a Redis that stopped answering is asked again. */
const PROBE_MS = 1_000
/** The namespace @fastify/rate-limit's Redis store put the counts under; kept, so counts survive an upgrade. */
const NAMESPACE = 'rate-limit:'
/** At most this many used-up keys are listed to a request; past that it asks Redis about its own key. */
export const LISTED_KEYS = 64

/** A count and the milliseconds left in its window. */
export interface Tally {
  current: number
  ttl: number
}
export type Counted = (error: Error | null, tally?: Tally) => void

/**
 * Where a budget keeps its counts: `incr` counts one, `read` only looks. In this process the
 * callback is called before the method returns; in Redis once the answer is in.
 */
export interface CountStore {
  incr(key: string, counted: Counted, timeWindow: number, max: number): void
  read(key: string, counted: Counted, timeWindow: number, max: number): void
}

export function localStore(): CountStore {
  return new LocalStore(false, false, LOCAL_KEYS)
}

/*
 * A budget's used-up keys, listed in a sorted set (score: when the window ends, Redis time), so
 * that a request can learn in the round trip it already makes whether a key it only learns
 * later (a client identifier, from the body) is used up.
 */
const COUNT_AND_LIST = `
  local current = redis.call('INCR', KEYS[1])
  local ttl = tonumber(ARGV[1])
  if current == 1 then redis.call('PEXPIRE', KEYS[1], ttl) else ttl = redis.call('PTTL', KEYS[1]) end
  if current >= tonumber(ARGV[2]) then
    local time = redis.call('TIME')
    local now = time[1] * 1000 + math.floor(time[2] / 1000)
    redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
    redis.call('ZADD', KEYS[2], now + ttl, KEYS[1])
  end
  return {current, ttl}
`
const LISTED = `
  local time = redis.call('TIME')
  redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', time[1] * 1000 + math.floor(time[2] / 1000))
  return redis.call('ZRANGE', KEYS[1], 0, ARGV[1])
`
interface ListingRedis {
  countAndList(key: string, list: string, timeWindow: number, max: number, done: (error: Error | null, result: [number, number]) => void): void
  listed(list: string, limit: number): Promise<string[]>
}

/**
 * Where the rate-limit budgets are counted when REDIS_URL is set: in Redis, with the atomic
 * script of @fastify/rate-limit's own Redis store, so that N replicas allow the configured
 * budget and not N times it. When Redis fails (an error, or no answer within `timeoutMs`),
 * counting goes on in this process (one line in the log) until Redis answers again (another
 * line): a Redis outage costs the budgets their sharing, never a request.
 */
export class SharedCounting {
  readonly redis: Redis
  /** `starting` until Redis first answers or fails: either way the log says so once. */
  #state: 'starting' | 'shared' | 'local' = 'starting'
  #probe: NodeJS.Timeout | undefined

  constructor(
    url: string,
    timeoutMs: number,
    private readonly log: FastifyBaseLogger,
  ) {
    // No offline queue and no retry of a command: while Redis is away a command fails at once,
    // and the request is counted here instead of waiting. Commands of one tick go out as one
    // pipeline: a request's counts, asked together, are one round trip.
    this.redis = new Redis(url, {
      enableAutoPipelining: true,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      commandTimeout: timeoutMs,
      connectTimeout: timeoutMs,
    })
    this.redis.defineCommand('countAndList', { numberOfKeys: 2, lua: COUNT_AND_LIST })
    this.redis.defineCommand('listed', { numberOfKeys: 1, lua: LISTED })
    this.redis.on('ready', () => this.#back())
    this.redis.on('error', (error: Error) => this.lost(error))
  }

  /** Whether the budgets are counted in Redis now. */
  get shared(): boolean {
    return this.#state === 'shared'
  }

  lost(error: Error): void {
    if (this.#state === 'local') return
    this.#state = 'local'
    metrics.rateLimitsShared(false)
    this.log.warn(`Redis is not answering (${error.message}): rate limits are counted in this process until it does`)
    // A connection that stays open but stalls never emits `ready` again: ask it.
    this.#probe = setInterval(() => void this.redis.ping().then(() => this.#back(), () => {}), PROBE_MS).unref()
  }

  #back(): void {
    clearInterval(this.#probe)
    this.#probe = undefined
    if (this.#state === 'shared') return
    this.#state = 'shared'
    metrics.rateLimitsShared(true)
    this.log.info('Redis answers: rate limits are shared across replicas')
  }

  /** A budget's store: Redis while it answers, this process otherwise. With `listed`, see `usedUp`. */
  store(listed?: string): SharedStore {
    return new SharedStore(this, listed === undefined ? undefined : NAMESPACE + listed)
  }

  async close(): Promise<void> {
    clearInterval(this.#probe)
    await this.redis.quit().catch(() => this.redis.disconnect())
  }
}

/** Counts in Redis while it answers, in this process otherwise. */
export class SharedStore implements CountStore {
  readonly #redis: RedisStore
  readonly #local = localStore()

  constructor(
    private readonly counting: SharedCounting,
    /** The sorted set that lists this budget's used-up keys, when it keeps one. */
    private readonly list?: string,
  ) {
    this.#redis = new RedisStore(false, false, counting.redis, NAMESPACE)
  }

  incr(key: string, counted: Counted, timeWindow: number, max: number): void {
    const list = this.list
    if (list === undefined) return this.#count('incr', key, counted, timeWindow, max)
    const redis = this.counting.redis as unknown as ListingRedis
    this.#count('incr', key, counted, timeWindow, max, (answered) =>
      redis.countAndList(NAMESPACE + key, list, timeWindow, max, (error, result) =>
        answered(error, error ? undefined : { current: result[0], ttl: result[1] }),
      ),
    )
  }

  read(key: string, counted: Counted, timeWindow: number, max: number): void {
    this.#count('read', key, counted, timeWindow, max)
  }

  /**
   * The listed budget's used-up keys (at most LISTED_KEYS), asked in the same tick as a
   * request's counts so that it costs no round trip of its own; undefined when Redis is not
   * counting or lists more than that: then ask about the key itself.
   */
  async usedUp(): Promise<Set<string> | undefined> {
    if (this.list === undefined || !this.counting.shared) return undefined
    const redis = this.counting.redis as unknown as ListingRedis
    const keys = await redis.listed(this.list, LISTED_KEYS).catch((error: Error) => void this.counting.lost(error))
    return keys && keys.length <= LISTED_KEYS ? new Set(keys.map((key) => key.slice(NAMESPACE.length))) : undefined
  }

  /** Asks Redis (the plugin's store, unless `ask` says how); counts here while Redis is away or when it fails. */
  #count(
    method: 'incr' | 'read',
    key: string,
    counted: Counted,
    timeWindow: number,
    max: number,
    ask: (answered: Counted) => void = (answered) => this.#redis[method](key, answered, timeWindow, max),
  ): void {
    if (!this.counting.shared) return this.#local[method](key, counted, timeWindow, max)
    ask((error, tally) => {
      if (!error) return counted(null, tally)
      this.counting.lost(error)
      this.#local[method](key, counted, timeWindow, max)
    })
  }
}
