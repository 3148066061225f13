import LocalStore from '@fastify/rate-limit/store/LocalStore.js'
import type { FastifyBaseLogger } from 'fastify'
import { Redis } from 'ioredis'
import { metrics } from '../observability/metrics.js'

/** Keys of the in-process count per budget: the plugin's own default, so memory stays bounded. */
const LOCAL_KEYS = 5_000
/** How often a Redis that stopped answering is asked again. */
const PROBE_MS = 1_000
/** The namespace @fastify/rate-limit's Redis store put the counts under; kept, so counts survive an upgrade. */
const NAMESPACE = 'rate-limit:'

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

/**
 * One decision of a request in one script call (one round trip), every budget of it in order:
 * `t` counts and refuses past the maximum, `c` refuses a key that has used its budget up
 * without counting, `s` counts and never refuses, and `f` counts a failure unless an earlier
 * count of the decision refused the request (as when it was asked only once admitted). The
 * counts are @fastify/rate-limit's: the key's first count starts its window (PEXPIRE). Answers
 * each key's count and the milliseconds left in its window, in the order asked.
 */
const DECIDE = `
  local window = tonumber(ARGV[1])
  local answer = {}
  local refused = false
  for i, key in ipairs(KEYS) do
    local use = ARGV[i * 2]
    local max = tonumber(ARGV[i * 2 + 1])
    local current
    local ttl = 0
    if use == 'c' or (use == 'f' and refused) then
      current = tonumber(redis.call('GET', key) or '0')
      if current > 0 then ttl = math.max(0, redis.call('PTTL', key)) end
    else
      current = redis.call('INCR', key)
      if current == 1 then
        redis.call('PEXPIRE', key, window)
        ttl = window
      else
        ttl = redis.call('PTTL', key)
      end
    end
    if (use == 't' and current > max) or (use == 'c' and current >= max) then refused = true end
    answer[i * 2 - 1] = current
    answer[i * 2] = ttl
  end
  return answer
`
/** How an ask is named to the script. */
export type Use = 't' | 'c' | 's' | 'f'
interface DecidingRedis {
  decide(keyCount: number, ...keysAndArgs: (string | number | ((error: Error | null, result: number[]) => void))[]): void
}

/**
 * Where the rate-limit budgets are counted when REDIS_URL is set: in Redis, a request's
 * decision in one atomic script (DECIDE: the counts of @fastify/rate-limit's own Redis store,
 * under its keys), so that N replicas allow the configured budget and not N times it. When Redis fails (an error, or no answer within `timeoutMs`),
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
    this.redis.defineCommand('decide', { lua: DECIDE })
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

  /**
   * Counts `keys` (each under its budget's kind already) in Redis, in one script call:
   * `done` gets each key's tally in order, or the error (then Redis is counted as lost, and
   * the caller counts in this process).
   */
  decide(keys: readonly string[], uses: readonly Use[], maxes: readonly number[], timeWindow: number, done: (error: Error | null, tallies?: Tally[]) => void): void {
    const args: (string | number | ((error: Error | null, result: number[]) => void))[] = []
    for (const key of keys) args.push(NAMESPACE + key)
    args.push(timeWindow)
    for (let i = 0; i < keys.length; i++) args.push(uses[i] as Use, maxes[i] as number)
    args.push((error, result) => {
      if (error) {
        this.lost(error)
        return done(error)
      }
      const tallies: Tally[] = []
      for (let i = 0; i < keys.length; i++) tallies.push({ current: Number(result[i * 2]), ttl: Number(result[i * 2 + 1]) })
      done(null, tallies)
    })
    ;(this.redis as unknown as DecidingRedis).decide(keys.length, ...args)
  }

  async close(): Promise<void> {
    clearInterval(this.#probe)
    await this.redis.quit().catch(() => this.redis.disconnect())
  }
}

