import client from 'prom-client'

/*
 * Every Prometheus metric the service exports, defined once here. The rest of the code calls
 * the named functions of `metrics`; it never touches prom-client. One registry per process,
 * as Prometheus scrapes a process: with several apps in one process (the tests) the counters
 * add up, which is why the tests compare scrapes taken before and after.
 */

const registry = new client.Registry()
const PREFIX = 'oauth_'

/** Where a caller's request came in; a credential change also comes from the CLI or an import. */
export type Edge = 'legacy' | 'rest'
export type ChangeSource = Edge | 'cli' | 'import'
/** Which rate limit refused a request (src/limits). */
export type RateLimitKind =
  | 'address'
  | 'api_credential'
  | 'failed_authentications'
  | 'failed_authentications_by_identifier'
  | 'failed_client_authentications'
  | 'failed_client_authentications_by_client'
/** The two authentication caches: API credentials of callers, OAuth clients' credentials. */
export type AuthCache = 'api_credential' | 'client_credential'

/** The pool of a database, read at each scrape: PGlite reports its one connection and its queue. */
export interface PoolStats {
  size: number
  idle: number
  waiting: number
}

/*
 * The metrics a request records (its duration, its statements' durations, the in-flight gauge,
 * the authentication look-ups and the changes) are kept here in plain numbers, and prom-client
 * sees them only when it is scraped. Its own `observe` and `inc` validate and hash a labels
 * object on every call: with metrics on, that was about 3 % of the service's CPU samples on an
 * update (docs/performance.md#metrics-and-tracing-overhead). A series is found by its label values in
 * nested maps instead, and made once, at its first use.
 */
type LabelValue = string | number

/** Series by their label values (in the order of the label names), each made at its first use. */
class SeriesByLabels<S> {
  readonly #root = new Map<LabelValue, unknown>()
  readonly all: S[] = []

  constructor(
    private readonly labelNames: readonly string[],
    private readonly make: (labels: Record<string, string>) => S,
  ) {}

  get(values: readonly LabelValue[]): S {
    let level = this.#root
    const last = values.length - 1
    for (let index = 0; index < last; index++) {
      let next = level.get(values[index] as LabelValue) as Map<LabelValue, unknown> | undefined
      if (next === undefined) level.set(values[index] as LabelValue, (next = new Map()))
      level = next
    }
    let series = level.get(values[last] as LabelValue) as S | undefined
    if (series === undefined) {
      series = this.make(Object.fromEntries(this.labelNames.map((name, index) => [name, String(values[index])])))
      level.set(values[last] as LabelValue, series)
      this.all.push(series)
    }
    return series
  }
}

interface HistogramSeries {
  readonly labels: Record<string, string>
  /** Observations per bucket, not cumulative; the last one counts those above the largest bound. */
  readonly counts: number[]
  sum: number
  count: number
}

/**
 * A histogram registered with the registry like prom-client's own, and written out by it in the
 * same lines (`_bucket` with `le` first, `_sum`, `_count`); an observation is a bucket search
 * and three additions.
 */
class Histogram {
  readonly type = 'histogram'
  readonly aggregator = 'sum'
  readonly #series: SeriesByLabels<HistogramSeries>

  constructor(
    readonly name: string,
    readonly help: string,
    labelNames: readonly string[],
    private readonly buckets: readonly number[],
  ) {
    this.#series = new SeriesByLabels(labelNames, (labels) => ({ labels, counts: new Array<number>(buckets.length + 1).fill(0), sum: 0, count: 0 }))
    // What the registry's text output needs of a metric: name, help, type and getForPromString.
    registry.registerMetric(this as unknown as client.Metric)
  }

  observe(seconds: number, ...labelValues: LabelValue[]): void {
    const series = this.#series.get(labelValues)
    let bucket = 0
    while (bucket < this.buckets.length && seconds > (this.buckets[bucket] as number)) bucket++
    ;(series.counts[bucket] as number)++
    series.sum += seconds
    series.count++
  }

  /** What the registry writes: prom-client's layout, the series' labels as `sharedLabels`. */
  async getForPromString() {
    const values = this.#series.all.flatMap((series) => {
      let cumulative = 0
      const line = (metricName: string, labels: Record<string, LabelValue>, value: number) => ({ metricName, labels, sharedLabels: series.labels, value })
      return [
        ...this.buckets.map((le, index) => line(`${this.name}_bucket`, { le }, (cumulative += series.counts[index] as number))),
        line(`${this.name}_bucket`, { le: '+Inf' }, series.count),
        line(`${this.name}_sum`, {}, series.sum),
        line(`${this.name}_count`, {}, series.count),
      ]
    })
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values }
  }
}

/** A counter counted in plain numbers per series, added to prom-client's counter when it is scraped. */
function batchedCounter(configuration: { name: string; help: string; labelNames: readonly string[] }) {
  const series = new SeriesByLabels(configuration.labelNames, (labels) => ({ labels, pending: 0 }))
  new client.Counter({
    ...configuration,
    registers: [registry],
    collect() {
      for (const counted of series.all) {
        if (counted.pending === 0) continue
        this.inc(counted.labels, counted.pending)
        counted.pending = 0
      }
    },
  })
  return {
    inc(count: number, ...labelValues: LabelValue[]): void {
      series.get(labelValues).pending += count
    },
  }
}

const requestDuration = new Histogram(
  `${PREFIX}http_request_duration_seconds`,
  'Time from receiving a request to finishing its answer, by route template, method and status code.',
  ['route', 'method', 'status_code'],
  [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
)

let requestsInFlight = 0
new client.Gauge({
  name: `${PREFIX}http_requests_in_flight`,
  help: 'Requests received and not yet answered.',
  registers: [registry],
  collect() {
    this.set(requestsInFlight)
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

const statementDuration = new Histogram(
  `${PREFIX}db_statement_duration_seconds`,
  'Time a database statement took, by statement name (src/credentials/storage.ts) and outcome.',
  ['statement', 'outcome'],
  [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
)

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

const authCacheLookups = batchedCounter({
  name: `${PREFIX}auth_cache_lookups_total`,
  help: 'Authentication look-ups answered from memory (hit) or read from the database (miss), by cache.',
  labelNames: ['cache', 'result'],
})

const rateLimitRefusals = new client.Counter({
  name: `${PREFIX}rate_limit_refusals_total`,
  help: 'Requests refused with 429, by the limit that refused them.',
  labelNames: ['kind'] as const,
  registers: [registry],
})

const failedAuthentications = new client.Counter({
  name: `${PREFIX}failed_authentications_total`,
  help: 'API callers refused for missing or wrong credentials or access key, by edge and reason.',
  labelNames: ['edge', 'reason'] as const,
  registers: [registry],
})

const credentialChanges = batchedCounter({
  name: `${PREFIX}credential_changes_total`,
  help: 'Credential changes written, by action (create, update, rotate_secret, delete) and source.',
  labelNames: ['action', 'source'],
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
  get enabled(): boolean {
    return enabled
  },

  requestStarted(): void {
    if (enabled) requestsInFlight++
  },
  requestFinished(route: string, method: string, statusCode: number, seconds: number): void {
    if (!enabled) return
    requestsInFlight--
    requestDuration.observe(seconds, route, method, statusCode)
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
    if (enabled) statementDuration.observe(seconds, statement, ok ? 'ok' : 'error')
  },

  rateLimitsShared(shared: boolean): void {
    if (enabled) rateLimitsShared.set(shared ? 1 : 0)
  },

  authCacheLookup(cache: AuthCache, hit: boolean): void {
    if (enabled) authCacheLookups.inc(1, cache, hit ? 'hit' : 'miss')
  },
  rateLimited(kind: RateLimitKind): void {
    if (enabled) rateLimitRefusals.inc({ kind })
  },
  authenticationFailed(edge: Edge, reason: string): void {
    if (enabled) failedAuthentications.inc({ edge, reason })
  },
  credentialChanged(action: string, source: ChangeSource, count = 1): void {
    if (enabled && count > 0) credentialChanges.inc(count, action, source)
  },
  writeRetried(): void {
    if (enabled) writeRetries.inc()
  },

  /** The exposition text Prometheus scrapes, and its content type. */
  async scrape(): Promise<{ contentType: string; text: string }> {
    return { contentType: registry.contentType, text: await registry.metrics() }
  },
}
