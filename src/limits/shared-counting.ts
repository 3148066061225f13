import LocalStore from '@fastify/rate-limit/store/LocalStore.js'
import RedisStore from '@fastify/rate-limit/store/RedisStore.js'
import type { FastifyRateLimitStore, FastifyRateLimitStoreCtor } from '@fastify/rate-limit'
import type { FastifyBaseLogger } from 'fastify'
import { Redis } from 'ioredis'
import { metrics } from '../observability/metrics.js'

/** Keys of the in-process fallback per budget: the plugin's own default, so memory stays bounded. */
const LOCAL_KEYS = 5_000
/** How often a Redis that stopped answering is asked again. */
const PROBE_MS = 1_000

type Counted = Parameters<FastifyRateLimitStore['incr']>[1]
/** What the plugin passes a store's constructor and `child` (its merged settings). */
interface CountingOptions {
  continueExceeding?: boolean
  exponentialBackoff?: boolean
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
    // pipeline.
    this.redis = new Redis(url, {
      enableAutoPipelining: true,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      commandTimeout: timeoutMs,
      connectTimeout: timeoutMs,
    })
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

  async close(): Promise<void> {
    clearInterval(this.#probe)
    await this.redis.quit().catch(() => this.redis.disconnect())
  }
}

/** The store class @fastify/rate-limit takes: Redis while it answers, this process otherwise. */
export function sharedStore(counting: SharedCounting): FastifyRateLimitStoreCtor {
  class SharedStore {
    readonly #redis: RedisStore
    readonly #local: LocalStore

    constructor(options: CountingOptions) {
      this.#redis = new RedisStore(options.continueExceeding, options.exponentialBackoff, counting.redis, 'rate-limit:')
      this.#local = new LocalStore(options.continueExceeding, options.exponentialBackoff, LOCAL_KEYS)
    }

    incr(key: string, counted: Counted, timeWindow: number, max: number): void {
      this.#count('incr', key, counted, timeWindow, max)
    }

    read(key: string, counted: Counted, timeWindow: number, max: number): void {
      this.#count('read', key, counted, timeWindow, max)
    }

    child(options: CountingOptions): SharedStore {
      return new SharedStore(options)
    }

    #count(method: 'incr' | 'read', key: string, counted: Counted, timeWindow: number, max: number): void {
      if (!counting.shared) return this.#local[method](key, counted, timeWindow, max)
      this.#redis[method](
        key,
        (error, result) => {
          if (!error) return counted(null, result)
          counting.lost(error)
          this.#local[method](key, counted, timeWindow, max)
        },
        timeWindow,
        max,
      )
    }
  }
  return SharedStore as unknown as FastifyRateLimitStoreCtor
}
