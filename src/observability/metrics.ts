import client from 'prom-client'

/*
 * Every Prometheus metric the service exports, defined once here. The rest of the code calls
 * the named functions of `metrics`; it never touches prom-client. One registry per process,
 * as Prometheus scrapes a process: with several apps in one process (the tests) the counters
 * add up, which is why the tests compare scrapes taken before and after.
 */

const registry = new client.Registry()
const PREFIX = 'oauth_'

/** Where a caller's request came in; a credential change also comes from an import (the CLI's import or import-legacy). */
export type Edge = 'legacy' | 'rest'
export type ChangeSource = Edge | 'import'
/** Which rate limit refused a request (src/limits). */
export type RateLimitKind =
  | 'address'
  | 'api_credential'
  | 'failed_authentications'
  | 'failed_authentications_by_identifier'
  | 'failed_client_authentications'
  | 'failed_client_authentications_by_client'
/** Why an API caller failed to authenticate: no credentials, wrong ones, a wrong access key, an address off its allow-list. */
export type AuthenticationFailure = 'missing' | 'failed' | 'accessKey' | 'address'
/** The two authentication caches: API credentials of callers, OAuth clients' credentials. */
export type AuthCache = 'api_credential' | 'client_credential'

/** The pool of a database, read at each scrape: PGlite reports its one connection and its queue. */
export interface PoolStats {
  size: number
  idle: number
  waiting: number
}

type LabelValue = string | number
/** One series of a CountedHistogram: its labels, and its observations by bucket. */
interface Series {
  labels: Record<string, LabelValue>
  /** Observations in each bucket alone (not cumulative); the last one is above every bound. */
  inBucket: number[]
  sum: number
  count: number
}

/**
 * A prom-client histogram whose observations are counted in plain numbers: a series is found by
 * one Map look-up per label value (no key string is built: joining the values into one cost four
 * times as much), an observation is a bucket index and three additions. prom-client's
 * own `observe` validates and hashes a labels object and finds the bucket by its bound turned
 * into a property name, on every call: about 5 µs of authenticate's 100 µs a request
 * (docs/performance-history.md). The registry reads this histogram as it reads any other, through
 * `getForPromString` (prom-client's `get`, for JSON, calls it too), so prom-client still writes
 * the exposition.
 */
class CountedHistogram<T extends string> extends client.Histogram<T> {
  /** Series by their first label value, then their second, and so on. */
  readonly #byLabelValue = new Map<LabelValue, unknown>()
  /** The same series in a list, for the exposition. */
  readonly #series: Series[] = []
  readonly #labelNames: readonly T[]
  readonly #bounds: readonly number[]
  readonly #name: string
  readonly #help: string

  constructor(config: client.HistogramConfiguration<T> & { labelNames: readonly T[]; buckets: number[] }) {
    super(config)
    this.#labelNames = config.labelNames
    this.#bounds = config.buckets
    this.#name = config.name
    this.#help = config.help
  }

  /** One observation of the series with these label values, in the order of `labelNames`. */
  record(value: number, ...labelValues: LabelValue[]): void {
    let level = this.#byLabelValue
    const last = labelValues.length - 1
    for (let index = 0; index < last; index++) {
      const labelValue = labelValues[index] as LabelValue
      let next = level.get(labelValue) as Map<LabelValue, unknown> | undefined
      if (next === undefined) level.set(labelValue, (next = new Map()))
      level = next
    }
    let series = level.get(labelValues[last] as LabelValue) as Series | undefined
    if (series === undefined) {
      const labels = Object.fromEntries(this.#labelNames.map((name, index) => [name, labelValues[index] as LabelValue]))
      series = { labels, inBucket: new Array<number>(this.#bounds.length + 1).fill(0), sum: 0, count: 0 }
      level.set(labelValues[last] as LabelValue, series)
      this.#series.push(series)
    }
    let bucket = 0
    while (bucket < this.#bounds.length && value > (this.#bounds[bucket] as number)) bucket++
    ;(series.inBucket[bucket] as number)++
    series.sum += value
    series.count++
  }

  /** What prom-client's registry writes as text: each series' cumulative buckets, then its sum and count. */
  async getForPromString() {
    const values = []
    for (const { labels, inBucket, sum, count } of this.#series) {
      let cumulative = 0
      for (const [index, le] of this.#bounds.entries()) {
        cumulative += inBucket[index] as number
        values.push({ metricName: `${this.#name}_bucket`, labels: { le }, sharedLabels: labels, value: cumulative })
      }
      values.push({ metricName: `${this.#name}_bucket`, labels: { le: '+Inf' }, sharedLabels: labels, value: count })
      values.push({ metricName: `${this.#name}_sum`, labels: {}, sharedLabels: labels, value: sum })
      values.push({ metricName: `${this.#name}_count`, labels: {}, sharedLabels: labels, value: count })
    }
    return { name: this.#name, help: this.#help, type: 'histogram' as const, values, aggregator: 'sum' as const }
  }

  override reset(): void {
    // prom-client's constructor calls it too, before this class's fields exist.
    if (#series in this) {
      this.#byLabelValue.clear()
      this.#series.length = 0
    }
  }
}

const requestDuration = new CountedHistogram({
  name: `${PREFIX}http_request_duration_seconds`,
  help: 'Time from receiving a request to finishing its answer, by route template, method and status code.',
  labelNames: ['route', 'method', 'status_code'] as const,
  buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
  registers: [registry],
})

/*
 * Requests in flight: those whose start the app's `onRequest` hook counted (src/app.ts) and
 * whose end (answered, or given up by their client) the hooks of http.ts have not yet, in plain
 * numbers read at a scrape: an addition in hooks that run anyway. Node's diagnostics channels for HTTP requests would count
 * them without a hook, but a subscriber makes Node build and publish two messages a request
 * (about 0.3 µs on a bare Node server; docs/performance.md).
 */
let started = 0
let finished = 0
new client.Gauge({
  name: `${PREFIX}http_requests_in_flight`,
  help: 'Requests received and not yet answered.',
  registers: [registry],
  collect() {
    this.set(Math.max(0, started - finished))
  },
})

const pools = new Set<() => PoolStats>()
const poolGauge = (name: string, help: string, pick: (stats: PoolStats) => number) =>
  new client.Gauge({
    name: `${PREFIX}db_pool_${name}`,
    help,
    registers: [registry],
    collect() {
      this.set([...pools].reduce((sum, stats) => sum + pick(stats()), 0))
    },
  })
poolGauge('connections', 'Connections the database pool holds (PGlite: its one connection).', (stats) => stats.size)
poolGauge('idle_connections', 'Pool connections not running a statement.', (stats) => stats.idle)
poolGauge('waiting_queries', 'Queries waiting for a pool connection (PGlite: for its one connection).', (stats) => stats.waiting)

const statementDuration = new CountedHistogram({
  name: `${PREFIX}db_statement_duration_seconds`,
  help: 'Time a database statement took, by statement name (as each storage module names it) and outcome.',
  labelNames: ['statement', 'outcome'] as const,
  buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
  registers: [registry],
})

const rateLimitsShared = new client.Gauge({
  name: `${PREFIX}rate_limits_shared`,
  help: '1 while the rate limits are counted in Redis for every replica (REDIS_URL), 0 while this process counts alone.',
  registers: [registry],
})

/** Each open database's outage tracker (src/db/availability.ts): whether it answers now. */
const availabilities = new Set<() => boolean>()
new client.Gauge({
  name: `${PREFIX}database_up`,
  help: '1 while the database answers; 0 from a request it failed to answer (answered 503) until a probe finds it back.',
  registers: [registry],
  collect() {
    this.set([...availabilities].every((available) => available()) ? 1 : 0)
  },
})

/** Look-ups since the last scrape, by cache and result. */
const lookupsUnscraped: Record<AuthCache, Record<'hit' | 'miss', number>> = {
  api_credential: { hit: 0, miss: 0 },
  client_credential: { hit: 0, miss: 0 },
}
new client.Counter({
  name: `${PREFIX}auth_cache_lookups_total`,
  help: 'Authentication look-ups answered from memory (hit) or read from the database (miss), by cache; API credentials only of callers let in.',
  labelNames: ['cache', 'result'] as const,
  registers: [registry],
  collect() {
    for (const [cache, counts] of Object.entries(lookupsUnscraped)) {
      this.inc({ cache, result: 'hit' }, counts.hit)
      this.inc({ cache, result: 'miss' }, counts.miss)
      counts.hit = counts.miss = 0
    }
  },
})

const rateLimitRefusals = new client.Counter({
  name: `${PREFIX}rate_limit_refusals_total`,
  help: 'Requests refused with 429, by the limit that refused them.',
  labelNames: ['kind'] as const,
  registers: [registry],
})

const failedAuthentications = new client.Counter({
  name: `${PREFIX}failed_authentications_total`,
  help: 'API callers refused for missing or wrong credentials or access key, or from an address their allow-list leaves out, by edge and reason.',
  labelNames: ['edge', 'reason'] as const,
  registers: [registry],
})

const credentialChanges = new client.Counter({
  name: `${PREFIX}credential_changes_total`,
  help: 'Credential changes written, by action (create, update, rotate_secret, delete) and source.',
  labelNames: ['action', 'source'] as const,
  registers: [registry],
})

const writeRetries = new client.Counter({
  name: `${PREFIX}credential_write_retries_total`,
  help: 'Optimistic writes that found the credential changed since it was read, and were decided again.',
  registers: [registry],
})

client.collectDefaultMetrics({ register: registry })

let enabled = true

/** The calls the rest of the code makes. While disabled (METRICS_ENABLED=false) they do nothing. */
export const metrics = {
  /** Turns recording on or off for the whole process; the bench compares the two. */
  setEnabled(on: boolean): void {
    enabled = on
  },

  requestStarted(): void {
    if (enabled) started++
  },
  /** A request whose client went away before its answer: no longer in flight, and not timed. */
  requestAbandoned(): void {
    if (enabled) finished++
  },
  requestFinished(route: string, method: string, statusCode: number, seconds: number): void {
    if (!enabled) return
    finished++
    requestDuration.record(seconds, route, method, statusCode)
  },

  /** Counts a database's pool in the gauges until the returned function is called (at close). */
  watchPool(stats: () => PoolStats): () => void {
    pools.add(stats)
    return () => void pools.delete(stats)
  },
  /** Reports a database's availability in `oauth_database_up` until the returned function is called (at close). */
  watchAvailability(available: () => boolean): () => void {
    availabilities.add(available)
    return () => void availabilities.delete(available)
  },
  statementFinished(statement: string, seconds: number, ok: boolean): void {
    if (enabled) statementDuration.record(seconds, statement, ok ? 'ok' : 'error')
  },

  rateLimitsShared(shared: boolean): void {
    if (enabled) rateLimitsShared.set(shared ? 1 : 0)
  },

  authCacheLookup(cache: AuthCache, hit: boolean): void {
    if (enabled) lookupsUnscraped[cache][hit ? 'hit' : 'miss']++
  },
  rateLimited(kind: RateLimitKind): void {
    if (enabled) rateLimitRefusals.inc({ kind })
  },
  authenticationFailed(edge: Edge, reason: AuthenticationFailure): void {
    if (enabled) failedAuthentications.inc({ edge, reason })
  },
  credentialChanged(action: string, source: ChangeSource, count = 1): void {
    if (enabled && count > 0) credentialChanges.inc({ action, source }, count)
  },
  writeRetried(): void {
    if (enabled) writeRetries.inc()
  },

  /** The exposition text Prometheus scrapes, and its content type. */
  async scrape(): Promise<{ contentType: string; text: string }> {
    return { contentType: registry.contentType, text: await registry.metrics() }
  },
}
