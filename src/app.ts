import { randomUUID } from 'node:crypto'
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest, type FastifyServerOptions } from 'fastify'
import fp from 'fastify-plugin'
import { ApiClientService } from './api-clients/service.js'
import { apiCredentialStorage } from './api-clients/storage.js'
import { corsOrigins, trustProxySetting, type Config } from './config.js'
import { AuditRetention } from './credentials/retention.js'
import { CredentialService } from './credentials/service.js'
import { credentialStorage } from './credentials/storage.js'
import { configuredDatabase, openDatabase, type Database, type DatabaseTarget } from './db/database.js'
import { accessChecks, type AccessChecks } from './http/authorization.js'
import crossOrigin from './http/cors.js'
import apiDocs from './http/docs.js'
import { RequestLogController } from './http/request-log.js'
import legacyApi from './legacy/route.js'
import limits from './limits/index.js'
import { logDestination, loggerOptions } from './logging.js'
import metricsPlugin from './observability/http.js'
import { metrics } from './observability/metrics.js'
import opsRoutes from './ops/routes.js'
import { routerProblem } from './rest/problem.js'
import restApi from './rest/routes.js'

declare module 'fastify' {
  interface FastifyInstance {
    config: Config
    database: Database
    credentials: CredentialService
    /** Set when AUDIT_RETENTION_DAYS is. */
    auditRetention: AuditRetention | null
    apiClients: ApiClientService
    access: AccessChecks
  }
}

export interface AppOptions {
  config: Config
  database: Database
}

/**
 * The whole service as a Fastify plugin. Its services are decorations of the instance, made
 * here once; every route plugin reads them from there. Not encapsulated (fastify-plugin), so
 * whoever registers it reaches them too.
 */
async function app(fastify: FastifyInstance, { config, database }: AppOptions) {
  fastify.decorate('config', config)
  fastify.decorate('database', database)
  await fastify.register(metricsPlugin, { enabled: config.METRICS_ENABLED, port: config.METRICS_PORT, host: config.HOST })
  const storage = credentialStorage(database)
  fastify.decorate('credentials', new CredentialService(storage, config.CLIENT_IDENTIFIER_PREFIX, config.DATABASE_TIMEOUT_MS))
  const retention = config.AUDIT_RETENTION_DAYS ? new AuditRetention(storage, config.AUDIT_RETENTION_DAYS, fastify.log) : null
  fastify.decorate('auditRetention', retention)
  if (retention) {
    fastify.addHook('onReady', async () => retention.start())
    fastify.addHook('preClose', () => retention.stop())
  }
  fastify.decorate('apiClients', new ApiClientService(apiCredentialStorage(database)))
  const origins = corsOrigins(config.CORS_ORIGINS)
  if (origins.length > 0) await fastify.register(crossOrigin, { origins })
  await fastify.register(limits, {
    windowSeconds: config.RATE_LIMIT_WINDOW_SECONDS,
    perCredential: config.RATE_LIMIT_PER_CREDENTIAL,
    perIp: config.RATE_LIMIT_PER_IP,
    failedAuthPerIp: config.RATE_LIMIT_FAILED_AUTH_PER_IP,
    failedAuthPerIdentifier: config.RATE_LIMIT_FAILED_AUTH_PER_IDENTIFIER,
    failedClientAuthPerIp: config.RATE_LIMIT_FAILED_CLIENT_AUTH_PER_IP,
    failedClientAuthPerClient: config.RATE_LIMIT_FAILED_CLIENT_AUTH_PER_CLIENT,
    redis: config.REDIS_URL
      ? { url: config.REDIS_URL, keyPrefix: config.REDIS_KEY_PREFIX, timeoutMs: config.REDIS_TIMEOUT_MS }
      : undefined,
  })
  fastify.decorate('access', accessChecks(fastify.apiClients, fastify.limits, config.API_ACCESS_KEY))

  // Fastify's own 404 repeats the URL, query string and all, where a caller may have put a
  // secret (api.php reads one from the query): the path is enough. REST answers its own.
  fastify.setNotFoundHandler((request, reply) => {
    const path = request.url.split('?')[0]
    return reply.code(404).send({ message: `Route ${request.method}:${path} not found`, error: 'Not Found', statusCode: 404 })
  })

  // First: the document collects the routes registered after it.
  await fastify.register(apiDocs)
  await fastify.register(opsRoutes)
  await fastify.register(legacyApi)
  await fastify.register(restApi)
}

const appPlugin = fp(app, { name: 'oauth-credential-service' })
export default appPlugin

/** Request ids come from `X-Request-Id` when it is sane, so a caller's id follows the request. */
function requestId(request: { headers: Record<string, string | string[] | undefined> }): string {
  const given = request.headers['x-request-id']
  return typeof given === 'string' && /^[\w.:-]{1,128}$/.test(given) ? given : randomUUID()
}

/** While the server stops, how often connections that have become idle are closed. */
const IDLE_CHECK_WHILE_CLOSING_MS = 50

/** How long a client may take to send a whole request (a slow sender holds a connection). */
const REQUEST_TIMEOUT_MS = 30_000

export interface BuiltServer {
  app: FastifyInstance
}

export interface StartedServer extends BuiltServer {
  /** Where it listens, e.g. http://127.0.0.1:3000. */
  address: string
  /** The admin API credential made on a first start with an empty database, shown once. */
  firstAdmin: { identifier: string; secret: string } | null
}

/**
 * What every answer carries: its request id; no-store, since answers carry client secrets or
 * data about them and no cache may keep a copy, refusals included; and nosniff, so that no
 * browser reads an answer as other than its content type says. (An error answer keeps the
 * headers set before it; static files of the docs set their own cache-control.)
 */
function answerHeaders(request: FastifyRequest, reply: FastifyReply): void {
  reply.header('x-request-id', request.id)
  reply.header('cache-control', 'no-store')
  reply.header('x-content-type-options', 'nosniff')
}

/**
 * Everything a start needs, used alike by server.ts, the tests and the container: opens the
 * database (PostgreSQL when DATABASE_URL is set, else PGlite in DATA_DIR), applies pending
 * migrations, makes sure someone can call the service, and builds the app.
 */
export async function buildServer(
  config: Config,
  overrides: { database?: DatabaseTarget; logger?: FastifyServerOptions['logger'] } = {},
): Promise<BuiltServer> {
  const database = await openDatabase(overrides.database ?? configuredDatabase(config), { timeoutMs: config.DATABASE_TIMEOUT_MS })
  let fastify: FastifyInstance | undefined
  try {
    await database.migrate()
    fastify = Fastify({
      logger: overrides.logger ?? { ...loggerOptions(config.LOG_LEVEL), stream: logDestination() },
      genReqId: requestId,
      logController: new RequestLogController(),
      requestIdHeader: false,
      bodyLimit: 64 * 1024,
      // A request that reaches a stopping server (its connection was accepted before the listener
      // closed) is served, not answered 503: a rolling restart must fail nothing it received.
      return503OnClosing: false,
      requestTimeout: REQUEST_TIMEOUT_MS,
      // Given to Node's server as it is made too: set afterwards (as Fastify does), the bound
      // held for headers but a body could trickle in for 60 s (Node 20). And Node looks for
      // connections past it every second, not every 30 s (up to twice the bound).
      http: { requestTimeout: REQUEST_TIMEOUT_MS, connectionsCheckingInterval: 1_000 },
      trustProxy: trustProxySetting(config.TRUST_PROXY),
      ajv: { customOptions: { removeAdditional: false } },
      // Answers are serialized, not validated: a nullable field's schema (anyOf) is chosen by its
      // type, so checking a date-time string's format again on every answer would only cost.
      serializerOpts: { ajv: { validateFormats: false } },
      // The router's refusals run no hook: they get the headers of every answer here.
      frameworkErrors: (error, request, reply) => {
        answerHeaders(request, reply)
        return routerProblem(error, request, reply)
      },
    })
    // Every request has the field its log line's actor is kept in (src/http/request-log.ts).
    fastify.decorateRequest('actor', null)
    // Every request's start: the headers of its answer, and one more request in flight (metrics.ts).
    fastify.addHook('onRequest', (request, reply, done) => {
      answerHeaders(request, reply)
      metrics.requestStarted()
      done()
    })
    // A stop closes the connections idle when it begins; one whose request was in flight is
    // answered keep-alive and would then hold the stop until its client, or the grace period,
    // closed it. Closed here as soon as it is idle.
    let closingIdle: NodeJS.Timeout | undefined
    fastify.addHook('preClose', async () => {
      closingIdle = setInterval(() => fastify?.server.closeIdleConnections(), IDLE_CHECK_WHILE_CLOSING_MS).unref()
    })
    fastify.addHook('onClose', async () => {
      clearInterval(closingIdle)
      await database.close()
    })
    database.availability.reportTo(fastify.log)
    await fastify.register(appPlugin, { config, database })
    await fastify.ready()
    const { API_BOOTSTRAP_IDENTIFIER: identifier, API_BOOTSTRAP_SECRET: secret } = config
    if (identifier && secret && !(await fastify.apiClients.ensureBootstrap(identifier, secret))) {
      fastify.log.warn(
        { identifier },
        'API_BOOTSTRAP_IDENTIFIER names a revoked API credential: it stays revoked. Name another identifier to get a bootstrap credential.',
      )
    }
    return { app: fastify }
  } catch (error) {
    // What the app opened when ready (a METRICS_PORT listener) closes with it.
    await fastify?.close().catch(() => {})
    await database.close().catch(() => {})
    throw error
  }
}

/**
 * Builds the server and listens on HOST:PORT. Only once it listens, and only on a database
 * with no API credential (and no bootstrap variables), is the first admin created: a start
 * that fails earlier (port taken, bad HOST) leaves no admin whose secret nobody saw.
 */
export async function startServer(
  config: Config,
  overrides: Parameters<typeof buildServer>[1] = {},
): Promise<StartedServer> {
  const { app } = await buildServer(config, overrides)
  let address: string
  try {
    address = await app.listen({ port: config.PORT, host: config.HOST })
  } catch (error) {
    await app.close()
    throw error
  }
  const firstAdmin = config.API_BOOTSTRAP_IDENTIFIER ? null : await app.apiClients.createFirstAdminIfNone()
  return { app, address, firstAdmin }
}
