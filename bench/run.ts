import { randomBytes } from 'node:crypto'
import { createServer } from 'node:http'
import os from 'node:os'
import autocannon from 'autocannon'
import pg from 'pg'
import { bulkSeed, seededClientIdentifier, seededSecret } from './seed.js'
import { StatementLog, shape } from './sql-log.js'
import { scratchDatabase, serviceEnv, Target } from './target.js'

/**
 * `npm run bench`: the service against its floor on PostgreSQL, path by path.
 *   BENCH_SECONDS          seconds per path and per floor (default 10)
 *   BENCH_MEMORY_SECONDS   length of the memory run on the legacy update (default 60; 0 skips)
 *   BENCH_CONNECTIONS      concurrent connections (default 50)
 *   BENCH_ADMIN_URL        where to create the bench database (default postgres://postgres@127.0.0.1:5432/test)
 *   BENCH_PG_LOG           PostgreSQL's log file, read to see the SQL sent (default: newest in /var/log/postgresql)
 *   BENCH_CPU_PROF         a folder: the service and its floor run the load phase with `node --cpu-prof` writing there
 *   BENCH_SERVICE_NODE_OPTIONS  extra node flags for the service, e.g. --max-old-space-size=64
 *   BENCH_PATHS            only the paths whose name contains one of these comma-separated words, e.g. legacy,PATCH
 *   BENCH_COMPARE          metrics, tracing or logging: instead of the floor comparison, each path that has a floor
 *                          on two services that differ only in that (metrics on / off; traces exported / off;
 *                          a log line per request / none), alternately in rounds of BENCH_SECONDS (see
 *                          compareSides); prints the median round. identical: two services with the same
 *                          settings, the noise the others are read against.
 *                          scale: every path on BENCH_CREDENTIALS credentials against BENCH_SCALE_BASELINE
 *                          (default 1000), two services on two databases, alternately in rounds as above
 *   BENCH_COMPARE_ROUNDS   rounds per path and side with BENCH_COMPARE (default 6)
 *   BENCH_COMPARE_PAIRS    with BENCH_COMPARE=metrics, tracing, logging or identical: pairs of services started in turn
 *                          for each path, each measured in ROUNDS rounds; the median over the pairs is printed
 *                          (default 4: the sides take turns at being started first, which is the slower)
 *   BENCH_CREDENTIALS      credentials seeded in bulk, with an audit trail in proportion (default 1000)
 *   BENCH_BUSY_EVENTS      audit events of the one busy credential (default 100000)
 *   BENCH_REDIS_URL        the service counts its rate limits in this Redis (its REDIS_URL, under a key
 *                          prefix of the run's own); unset: in the process, as by default
 */
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10)
const ROUNDS = Number(process.env.BENCH_COMPARE_ROUNDS ?? 6)
const SERVICE_NODE_OPTIONS = process.env.BENCH_SERVICE_NODE_OPTIONS?.split(' ').filter(Boolean) ?? []
const PAIRS = Number(process.env.BENCH_COMPARE_PAIRS ?? 4)
const MEMORY_SECONDS = Number(process.env.BENCH_MEMORY_SECONDS ?? 60)
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 50)
const CREDENTIALS = Number(process.env.BENCH_CREDENTIALS ?? 1_000)
const BUSY_EVENTS = Number(process.env.BENCH_BUSY_EVENTS ?? 100_000)
/** The updates, reads and authentications work on this many credentials, spread over all of them. */
const HOT = 200
/** Authentication across many clients: more than the service keeps in memory (10,000). */
const DISTINCT_CLIENTS = 100_000
const PAGE = 50
const REDIS: Record<string, string> = process.env.BENCH_REDIS_URL
  ? { REDIS_URL: process.env.BENCH_REDIS_URL, REDIS_KEY_PREFIX: `bench-${process.pid}:` }
  : {}
const API = { identifier: 'bench', secret: randomBytes(32).toString('base64') }
const BASIC = `Basic ${Buffer.from(`${API.identifier}:${API.secret}`).toString('base64')}`

interface Seeded {
  /** How many credentials the database holds (ids 1…credentials). */
  credentials: number
  /** The hot credentials' ids, spread evenly over 1…credentials. */
  ids: number[]
  clients: { clientIdentifier: string; clientSecret: string }[]
  /** The credential with BUSY_EVENTS events, and the range of its events' ids. */
  busy: { id: number; firstEvent: number; lastEvent: number }
}

const client = (n: number) => ({ clientIdentifier: seededClientIdentifier(n), clientSecret: seededSecret(n) })
/** A cursor as the service writes it (src/rest/paging.ts): deep into the list, somewhere in its second half. */
const deepCursor = (n: number, { credentials }: Seeded) =>
  Buffer.from(`id:${Math.floor(credentials / 2) + (n % Math.max(1, credentials / 2 - PAGE))}`).toString('base64url')

/** One benchmarked request: how to build it, and the OpenAPI path that must exist for it. */
interface BenchPath {
  name: string
  method: 'GET' | 'POST' | 'PATCH'
  /** Path in /openapi.json the service must offer; none for api.php, which always exists. */
  requires?: { path: string; method: string }
  /** Whether bench/floor.ts has this path; the scale paths are compared across data sizes instead. */
  floor: boolean
  request(seeded: Seeded, n: number): { path: string; headers: Record<string, string>; body?: string }
}

const form = (fields: Record<string, string>) => new URLSearchParams(fields).toString()
const FORM = { 'content-type': 'application/x-www-form-urlencoded' }
const JSON_BODY = { 'content-type': 'application/json', authorization: BASIC }

const PATHS: BenchPath[] = [
  {
    name: 'legacy UpdateOAuthCredential',
    method: 'POST',
    floor: true,
    request: ({ ids }, n) => ({
      path: '/includes/api.php',
      headers: FORM,
      body: form({
        action: 'UpdateOAuthCredential',
        identifier: API.identifier,
        secret: API.secret,
        credentialId: String(ids[n % ids.length]),
        name: `bench ${n}`,
        responsetype: 'json',
      }),
    }),
  },
  {
    name: 'REST PATCH /oauth/credentials/{id}',
    method: 'PATCH',
    floor: true,
    requires: { path: '/oauth/credentials/{credentialId}', method: 'patch' },
    request: ({ ids }, n) => ({
      path: `/oauth/credentials/${ids[n % ids.length]}`,
      headers: { ...JSON_BODY, 'content-type': 'application/merge-patch+json' },
      body: JSON.stringify({ name: `bench ${n}` }),
    }),
  },
  {
    name: 'REST GET /oauth/credentials/{id}',
    method: 'GET',
    floor: true,
    requires: { path: '/oauth/credentials/{credentialId}', method: 'get' },
    request: ({ ids }, n) => ({ path: `/oauth/credentials/${ids[n % ids.length]}`, headers: { authorization: BASIC } }),
  },
  {
    name: 'REST POST /oauth/credentials/authenticate',
    method: 'POST',
    floor: true,
    requires: { path: '/oauth/credentials/authenticate', method: 'post' },
    request: ({ clients }, n) => ({
      path: '/oauth/credentials/authenticate',
      headers: JSON_BODY,
      body: JSON.stringify(clients[n % clients.length]),
    }),
  },
  {
    name: `REST POST /oauth/credentials/authenticate, min(n, ${DISTINCT_CLIENTS}) distinct clients`,
    method: 'POST',
    floor: false,
    requires: { path: '/oauth/credentials/authenticate', method: 'post' },
    request: ({ credentials }, n) => {
      // Client k of `distinct`, spread over all credentials: each is seen again only after all the others.
      const distinct = Math.min(DISTINCT_CLIENTS, credentials)
      return {
        path: '/oauth/credentials/authenticate',
        headers: JSON_BODY,
        body: JSON.stringify(client(1 + Math.floor(((n % distinct) * credentials) / distinct))),
      }
    },
  },
  {
    name: 'REST GET /oauth/credentials list, deep cursor',
    method: 'GET',
    floor: false,
    requires: { path: '/oauth/credentials', method: 'get' },
    request: (seeded, n) => ({ path: `/oauth/credentials?limit=${PAGE}&cursor=${deepCursor(n, seeded)}`, headers: { authorization: BASIC } }),
  },
  {
    name: 'REST GET /oauth/credentials?grantType=single_sign_on, deep cursor',
    method: 'GET',
    floor: false,
    requires: { path: '/oauth/credentials', method: 'get' },
    request: (seeded, n) => ({
      path: `/oauth/credentials?grantType=single_sign_on&limit=${PAGE}&cursor=${deepCursor(n, seeded)}`,
      headers: { authorization: BASIC },
    }),
  },
  {
    name: 'REST GET /oauth/credentials?clientIdentifier=',
    method: 'GET',
    floor: false,
    requires: { path: '/oauth/credentials', method: 'get' },
    request: ({ credentials }, n) => ({
      path: `/oauth/credentials?clientIdentifier=${encodeURIComponent(seededClientIdentifier(1 + (n % credentials)))}`,
      headers: { authorization: BASIC },
    }),
  },
  {
    name: `REST GET /oauth/credentials/{id}/events, busy credential (${BUSY_EVENTS} events), deep cursor`,
    method: 'GET',
    floor: false,
    requires: { path: '/oauth/credentials/{credentialId}/events', method: 'get' },
    request: ({ busy }, n) => {
      const before = busy.firstEvent + PAGE + (n % Math.max(1, busy.lastEvent - busy.firstEvent - PAGE))
      const cursor = Buffer.from(`id:${before}`).toString('base64url')
      return { path: `/oauth/credentials/${busy.id}/events?limit=${PAGE}&cursor=${cursor}`, headers: { authorization: BASIC } }
    },
  },
  {
    name: 'legacy ListOAuthCredentials sorted by name',
    method: 'POST',
    floor: false,
    request: () => ({
      path: '/includes/api.php',
      headers: FORM,
      body: form({
        action: 'ListOAuthCredentials',
        identifier: API.identifier,
        secret: API.secret,
        sortField: 'name',
        limit: String(PAGE),
        responsetype: 'json',
      }),
    }),
  },
]

interface Measured {
  requestsPerSecond: number
  p50: number
  p99: number
  peakRssMiB: number
  errors: number
  non2xx: number
  ok: number
  /** CPU time the process spent per answered request: unlike req/s, it hardly depends on other load. */
  cpuMsPerRequest: number
  rss: number[]
}

/** Numbers each request across runs, so that every update changes the name and writes. */
let sequence = 1_000

async function load(target: Target, path: BenchPath, seeded: Seeded, seconds: number): Promise<Measured> {
  const rss: number[] = []
  const cpuBefore = await target.cpuSeconds()
  const sampler = setInterval(() => void target.rssMiB().then((value) => rss.push(value), () => {}), 250)
  const result = await autocannon({
    url: target.base,
    connections: CONNECTIONS,
    duration: seconds,
    requests: [
      {
        method: path.method,
        setupRequest: (request) => {
          const built = path.request(seeded, sequence++)
          return { ...request, method: path.method, path: built.path, headers: built.headers, body: built.body }
        },
      },
    ],
  })
  clearInterval(sampler)
  const cpu = (await target.cpuSeconds()) - cpuBefore
  return {
    cpuMsPerRequest: (cpu * 1000) / Math.max(1, result['2xx']),
    requestsPerSecond: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    peakRssMiB: Math.max(0, ...rss),
    errors: result.errors + result.timeouts,
    non2xx: result.non2xx,
    ok: result['2xx'],
    rss,
  }
}

async function send(target: Target, path: BenchPath, seeded: Seeded, n: number) {
  const built = path.request(seeded, n)
  const response = await fetch(target.base + built.path, { method: path.method, headers: built.headers, body: built.body })
  return { status: response.status, body: await response.text() }
}

async function main() {
  const scratch = await scratchDatabase('bench')
  const { admin, name: database } = scratch
  const url = new URL(scratch.url)
  const targets: Target[] = []
  const profiling = (profile: boolean) =>
    profile && process.env.BENCH_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROF}`] : []
  const startService = async (profile = false) => {
    const flags = [...profiling(profile), ...SERVICE_NODE_OPTIONS]
    const target = await Target.start('service', 'dist/src/server.js', { ...serviceEnv(scratch.url, API, 'info'), ...REDIS }, flags)
    targets.push(target)
    return target
  }
  const startFloor = async (profile = false) => {
    const target = await Target.start('floor', 'dist/bench/floor.js', { DATABASE_URL: url.toString() }, profiling(profile))
    targets.push(target)
    return target
  }
  try {
    const cpu = os.cpus()[0]?.model ?? 'unknown CPU'
    console.log(`# oauth-credential-service bench, ${new Date().toISOString()}`)
    console.log(`# ${os.cpus().length} x ${cpu}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}, ` +
      `PostgreSQL ${(await admin.query('SHOW server_version')).rows[0].server_version}; ` +
      `rate limits counted ${REDIS.REDIS_URL ? 'in Redis' : 'in the service process'}; ` +
      `${CONNECTIONS} connections, ${SECONDS} s per run, load generator on the same machine; ` +
      `load average at the start: ${os.loadavg().map((value) => value.toFixed(1)).join(' ')}\n`)

    const comparing = process.env.BENCH_COMPARE
    if (comparing !== undefined && comparing !== 'scale' && !(comparing in VARIANTS)) {
      throw new Error(`BENCH_COMPARE: ${[...Object.keys(VARIANTS), 'scale'].join(', ')}`)
    }
    // 1. What SQL each request really sends: PostgreSQL logs every statement of this database.
    if (!comparing) await admin.query(`ALTER DATABASE "${database}" SET log_statement = 'all'`)
    let service = await startService()
    const seeded = await seed(scratch.url, CREDENTIALS)
    const openapi = (await fetch(service.base + '/openapi.json').then((r) => (r.ok ? r.json() : {}), () => ({})))
    const paths = (openapi as { paths?: Record<string, Record<string, unknown>> }).paths ?? {}
    const chosen = process.env.BENCH_PATHS?.split(',') ?? ['']
    const enabled = PATHS.filter(
      (path) =>
        (!path.requires || paths[path.requires.path]?.[path.requires.method]) &&
        chosen.some((word) => path.name.includes(word)),
    )
    for (const path of PATHS.filter((path) => !enabled.includes(path))) console.log(`${path.name}: skipped (not chosen, or route not present)`)
    if (comparing === 'scale') {
      const small = await scratchDatabase('bench_baseline')
      try {
        const baseline = await Target.start('baseline', 'dist/src/server.js', { ...serviceEnv(small.url, API, 'info'), ...REDIS })
        targets.push(baseline)
        const label = (count: number) => (count >= 1e6 ? `${count / 1e6}M` : count >= 1e3 ? `${count / 1e3}k` : String(count))
        const large: Side = { label: label(CREDENTIALS), target: service, seeded }
        const baselineSide: Side = { label: label(SCALE_BASELINE), target: baseline, seeded: await seed(small.url, SCALE_BASELINE) }
        // One pair: these two services are seeded on two databases, once.
        await compareSides([large.label, baselineSide.label], async () => ({ a: large, b: baselineSide, release: async () => {} }), 1, enabled)
      } finally {
        for (const target of targets.splice(0)) await target.stop()
        await small.drop()
      }
      return
    }
    if (comparing) {
      await service.stop()
      // The four paths of the floor comparison; the scale paths cost the same per request to record.
      await compareVariants(VARIANTS[comparing as keyof typeof VARIANTS], enabled.filter((path) => path.floor), seeded, scratch.url, targets)
      return
    }

    const log = await StatementLog.open()
    const floorForCapture = await startFloor()
    const statements = new Map<string, { service: string[]; floor: string[] }>()
    for (const path of enabled) {
      await send(service, path, seeded, sequence++) // warm: the first request reads the scope catalogue
      const captured = { service: [] as string[], floor: [] as string[] }
      const sides = [[service, captured.service], [floorForCapture, captured.floor]] as const
      for (const [target, into] of path.floor ? sides : sides.slice(0, 1)) {
        const mark = await log.mark()
        // A new sequence number each time, so that every captured update really changes the name.
        const answer = await send(target, path, seeded, sequence++)
        if (answer.status >= 300) throw new Error(`${target.name} ${path.name}: ${answer.status} ${answer.body}`)
        await new Promise((resolve) => setTimeout(resolve, 300))
        into.push(...(await log.since(mark, database)))
      }
      statements.set(path.name, captured)
      const floorCount = path.floor ? `${captured.floor.length} (floor)` : 'no floor'
      console.log(`\n${path.name}: ${captured.service.length} round trips (service), ${floorCount}`)
      const rows = Math.max(captured.service.length, captured.floor.length)
      for (let i = 0; i < rows; i++) {
        const mine = captured.service[i] === undefined ? '-' : shape(captured.service[i] as string)
        const floor = captured.floor[i] === undefined ? '-' : shape(captured.floor[i] as string)
        const compared = path.floor ? `${floor.padEnd(34)} ${mine === floor ? '' : '<- differs'}` : ''
        console.log(`  ${String(i + 1).padStart(2)}. ${mine.padEnd(34)} ${compared}`)
      }
    }
    await service.stop()
    await floorForCapture.stop()
    await admin.query(`ALTER DATABASE "${database}" RESET log_statement`)

    // 2. Load: each path on the service, then on its floor.
    const results: { path: string; service: Measured; floor?: Measured; writes?: number }[] = []
    service = await startService(true)
    const floor = await startFloor(true)
    for (const path of enabled) {
      await load(service, path, seeded, 2) // warm-up (JIT, pools)
      const before = await auditEvents(url)
      const mine = await load(service, path, seeded, SECONDS)
      const writes = (await auditEvents(url)) - before
      let theirs: Measured | undefined
      if (path.floor) {
        await load(floor, path, seeded, 2)
        theirs = await load(floor, path, seeded, SECONDS)
      }
      results.push({ path: path.name, service: mine, floor: theirs, writes: path.method === 'GET' ? undefined : writes })
    }

    console.log('\n| path | req/s | p50 ms | p99 ms | peak RSS MiB | CPU ms/req | floor req/s | floor p50 | floor p99 | floor CPU ms/req | ratio |')
    console.log('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|')
    for (const { path, service: s, floor: f } of results) {
      const floorColumns = f
        ? `${f.requestsPerSecond.toFixed(0)} | ${f.p50} | ${f.p99} | ${f.cpuMsPerRequest.toFixed(3)} | ` +
          `${(s.requestsPerSecond / f.requestsPerSecond).toFixed(2)}`
        : '- | - | - | - | -'
      console.log(`| ${path} | ${s.requestsPerSecond.toFixed(0)} | ${s.p50} | ${s.p99} | ${s.peakRssMiB.toFixed(0)} | ` +
        `${s.cpuMsPerRequest.toFixed(3)} | ${floorColumns} |`)
    }
    for (const { path, service: s, floor: f, writes } of results) {
      console.log(`${path}: service ${s.ok} answered 2xx, ${s.errors} errors, ${s.non2xx} non-2xx` +
        (writes === undefined ? '' : `, ${writes} audit events written`) +
        (f ? `; floor ${f.ok} 2xx, ${f.errors} errors, ${f.non2xx} non-2xx` : ''))
    }
    console.log(`load average at the end: ${os.loadavg().map((value) => value.toFixed(1)).join(' ')}`)

    // 3. Memory over a longer run.
    if (MEMORY_SECONDS > 0) {
      const path = PATHS[0] as BenchPath
      const run = await load(service, path, seeded, MEMORY_SECONDS)
      const perSecond = run.rss.filter((_, index) => index % 4 === 0)
      // Warm-up over after the first third: from there on RSS must not keep growing.
      const settled = Math.max(...perSecond.slice(0, Math.floor(perSecond.length / 3)))
      const end = Math.max(...perSecond.slice(Math.floor((perSecond.length * 5) / 6)))
      const growth = (end - settled) / settled
      const samples = perSecond.filter((_, index) => index % 10 === 0).map((value) => value.toFixed(0))
      console.log(`\nmemory, ${path.name}, ${MEMORY_SECONDS} s at ${run.requestsPerSecond.toFixed(0)} req/s: ` +
        `RSS MiB every 10 s: ${samples.join(' ')}; peak of the first third ${settled.toFixed(0)}, ` +
        `of the last sixth ${end.toFixed(0)} (${(growth * 100).toFixed(1)} %): ${growth < 0.05 ? 'flat' : 'NOT flat'}`)
    }
  } finally {
    for (const target of targets) await target.stop()
    await scratch.drop()
  }
}

/** Two settings of the service that BENCH_COMPARE sets side by side: the cost of a feature. */
const VARIANTS = {
  metrics: { on: { METRICS_ENABLED: 'true' }, off: { METRICS_ENABLED: 'false' } },
  // Traces exported over OTLP/HTTP to a sink in this process, every request sampled.
  tracing: { on: { OTEL_EXPORTER_OTLP_ENDPOINT: 'sink' }, off: {} },
  // The one log line per request (info) against none (warn).
  logging: { on: { LOG_LEVEL: 'info' }, off: { LOG_LEVEL: 'warn' } },
  // The same settings on both sides: what the method reads when there is nothing to find.
  identical: { on: {}, off: {} },
} satisfies Record<string, { on: Record<string, string>; off: Record<string, string> }>
/** BENCH_COMPARE=scale: the service on BENCH_CREDENTIALS credentials against the same on this many. */
const SCALE_BASELINE = Number(process.env.BENCH_SCALE_BASELINE ?? 1_000)

/** One side of a comparison: a service, and the data it serves. */
interface Side {
  label: string
  target: Target
  seeded: Seeded
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b)
  const middle = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? (sorted[middle] as number) : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2
}

/** Two sides to compare, and what to do with them when a path is done. */
interface Pair {
  a: Side
  b: Side
  release(): Promise<void>
}

/**
 * Each path on two services loaded in turns. After a warm-up of each, ROUNDS rounds of SECONDS
 * on each, in strict turns (a b a b …; b a b a … for every other pair). Each round gives its
 * own ratios a/b (req/s, CPU ms per request). With several pairs (`pairs`, each a new pair of
 * processes from `pairOf`), each pair's median round is taken and the median over the pairs
 * printed, with each pair's CPU ratio: a process keeps for its life whatever made it a little
 * faster or slower than its twin, so pairs differ more than rounds.
 * `pairOf(n)` starts pair n's processes.
 */
async function compareSides(labels: [string, string], pairOf: (n: number) => Promise<Pair>, pairs: number, enabled: BenchPath[]) {
  const [a, b] = labels
  const spread = (values: number[]) => `${Math.min(...values).toFixed(3)}–${Math.max(...values).toFixed(3)}`
  console.log(`\n${pairs} pair(s) of processes, ${ROUNDS} rounds of ${SECONDS} s on each side per path and pair; the median over the pairs of each pair's median round, and the range of all rounds' ratios ${a} / ${b}`)
  console.log(`| path | req/s ${a} | req/s ${b} | ratio | (range) | CPU ms/req ${a} | CPU ms/req ${b} | CPU ratio | (range) | CPU ratio of each pair | p99 ${a} | p99 ${b} | load |`)
  console.log('|---|---:|---:|---:|---|---:|---:|---:|---|---|---:|---:|---:|')
  const rate = (m: Measured) => m.requestsPerSecond
  const cost = (m: Measured) => m.cpuMsPerRequest
  for (const path of enabled) {
    const rounds: { a: Measured; b: Measured }[] = []
    const pairRates: number[] = []
    const pairCosts: number[] = []
    for (let n = 0; n < pairs; n++) {
      const pair = await pairOf(n)
      try {
        const ofPair: { a: Measured; b: Measured }[] = []
        // Strict turns: no side is loaded twice in a row. (In the order a b, b a, … only b was,
        // and two A/A runs of PATCH read 1.018 and 1.047 against a.) Pairs take turns at going
        // first, so that a drift of the machine falls on both sides alike.
        const turns = n % 2 === 0 ? (['a', 'b'] as const) : (['b', 'a'] as const)
        for (const name of turns) await load(pair[name].target, path, pair[name].seeded, 2) // warm-up
        for (let round = 0; round < ROUNDS; round++) {
          const measured: Partial<Record<'a' | 'b', Measured>> = {}
          for (const name of turns) {
            const side = pair[name]
            measured[name] = await load(side.target, path, side.seeded, SECONDS)
          }
          ofPair.push(measured as { a: Measured; b: Measured })
        }
        pairRates.push(median(ofPair.map((round) => rate(round.a) / rate(round.b))))
        pairCosts.push(median(ofPair.map((round) => cost(round.a) / cost(round.b))))
        rounds.push(...ofPair)
      } finally {
        await pair.release()
      }
    }
    const of = (side: 'a' | 'b', pick: (m: Measured) => number) => median(rounds.map((round) => pick(round[side])))
    const ratios = (pick: (m: Measured) => number) => rounds.map((round) => pick(round.a) / pick(round.b))
    console.log(`| ${path.name} | ${of('a', rate).toFixed(0)} | ${of('b', rate).toFixed(0)} | ${median(pairRates).toFixed(3)} | ${spread(ratios(rate))} | ` +
      `${of('a', cost).toFixed(3)} | ${of('b', cost).toFixed(3)} | ${median(pairCosts).toFixed(3)} | ${spread(ratios(cost))} | ` +
      `${pairCosts.map((ratio) => ratio.toFixed(3)).join(', ')} | ${of('a', (m) => m.p99)} | ${of('b', (m) => m.p99)} | ${os.loadavg()[0]?.toFixed(1)} |`)
    const failed = rounds.reduce((sum, round) => sum + round.a.errors + round.a.non2xx + round.b.errors + round.b.non2xx, 0)
    if (failed > 0) console.log(`  ${path.name}: ${failed} errors or non-2xx answers`)
  }
  console.log(`load average at the end: ${os.loadavg().map((value) => value.toFixed(1)).join(' ')}`)
}

/** BENCH_COMPARE=<variant>: two services that differ only in that setting, on the same database. */
async function compareVariants(
  variant: { on: Record<string, string>; off: Record<string, string> },
  enabled: BenchPath[],
  seeded: Seeded,
  databaseUrl: string,
  targets: Target[],
) {
  const sink = createServer((request, response) => request.resume().on('end', () => response.writeHead(200).end('{}')))
  await new Promise<void>((resolve) => sink.listen(0, '127.0.0.1', resolve))
  const sinkUrl = `http://127.0.0.1:${(sink.address() as { port: number }).port}`
  const start = async (label: string, settings: Record<string, string>): Promise<Side> => {
    const env = Object.fromEntries(Object.entries(settings).map(([key, value]) => [key, value === 'sink' ? sinkUrl : value]))
    const target = await Target.start(label, 'dist/src/server.js', { ...serviceEnv(databaseUrl, API, 'info'), ...REDIS, ...env }, SERVICE_NODE_OPTIONS)
    targets.push(target)
    return { label, target, seeded }
  }
  try {
    // Of two processes started one after the other, the first used 3–5 % more CPU a request
    // (identical settings, 12 pairs out of 12; started the other way round, the other one), so
    // the sides take turns at being first.
    const pairOf = async (n: number): Promise<Pair> => {
      const started: Partial<Record<'on' | 'off', Side>> = {}
      for (const side of n % 2 === 0 ? (['on', 'off'] as const) : (['off', 'on'] as const)) started[side] = await start(side, variant[side])
      const { on: a, off: b } = started as Record<'on' | 'off', Side>
      return {
        a,
        b,
        async release() {
          for (const side of [a, b]) {
            targets.splice(targets.indexOf(side.target), 1)
            await side.target.stop()
          }
        },
      }
    }
    await compareSides(['on', 'off'], pairOf, PAIRS, enabled)
  } finally {
    sink.close()
  }
}

/** `credentials` credentials to work on, seeded in bulk straight into the database the service migrated. */
async function seed(url: string, credentials: number): Promise<Seeded> {
  const started = performance.now()
  const database = new pg.Client({ connectionString: url })
  await database.connect()
  const busy = await bulkSeed((text, params) => database.query(text, params), { credentials, busyEvents: BUSY_EVENTS })
  const [range] = (await database.query('SELECT min(id)::int AS first, max(id)::int AS last FROM audit_event WHERE credential_id = $1', [busy])).rows
  const [size] = (await database.query(`SELECT (SELECT count(*) FROM audit_event)::int AS events, pg_database_size(current_database()) AS bytes`)).rows
  await database.end()
  console.log(`seeded ${credentials} credentials and ${size.events} audit events (${BUSY_EVENTS} on credential ${busy}) ` +
    `in ${((performance.now() - started) / 1000).toFixed(1)} s, vacuum and analyze included; database ${(size.bytes / 2 ** 20).toFixed(0)} MiB`)
  const hot = Math.min(HOT, credentials)
  const ids = Array.from({ length: hot }, (_, k) => 1 + Math.floor((k * credentials) / hot))
  return { credentials, ids, clients: ids.map(client), busy: { id: busy, firstEvent: range.first, lastEvent: range.last } }
}

async function auditEvents(url: URL): Promise<number> {
  const client = new pg.Client({ connectionString: url.toString() })
  await client.connect()
  try {
    return Number((await client.query('SELECT count(*) FROM audit_event')).rows[0].count)
  } finally {
    await client.end()
  }
}

await main()
