import { randomUUID } from 'node:crypto'
import swagger from '@fastify/swagger'
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify'
import fp from 'fastify-plugin'
import pino from 'pino'
import { ApiClientService } from './api-clients/service.js'
import { trustProxySetting, type Config } from './config.js'
import { CredentialService } from './credentials/service.js'
import { openDatabase, type Database, type DatabaseTarget } from './db/database.js'
import { RequestLogController } from './http/request-log.js'
import legacyApi from './legacy/route.js'
import limits from './limits/index.js'
import { loggerOptions } from './logging.js'
import opsRoutes from './ops/routes.js'
import apiDocs from './rest/docs.js'
import restApi, { REST_PREFIX } from './rest/routes.js'

declare module 'fastify' {
  interface FastifyInstance {
    database: Database
    credentials: CredentialService
    apiClients: ApiClientService
  }
}

export interface AppOptions {
  config: Config
  database: Database
}

/**
 * The whole service as a Fastify plugin: decorations, documentation, and every route. Not
 * encapsulated (fastify-plugin), so whoever registers it reaches its services.
 */
async function app(fastify: FastifyInstance, { config, database }: AppOptions) {
  fastify.decorate('database', database)
  fastify.decorate('credentials', new CredentialService(database, config.CLIENT_IDENTIFIER_PREFIX))
  fastify.decorate('apiClients', new ApiClientService(database))
  await fastify.register(limits, {
    windowSeconds: config.RATE_LIMIT_WINDOW_SECONDS,
    perCredential: config.RATE_LIMIT_PER_CREDENTIAL,
    perIp: config.RATE_LIMIT_PER_IP,
    failedAuthPerIp: config.RATE_LIMIT_FAILED_AUTH_PER_IP,
  })

  await fastify.register(swagger, {
    // Shared schemas appear under their own names (components/schemas/Credential), not def-N.
    refResolver: { buildLocalReference: (json, _baseUri, _fragment, i) => String(json.$id ?? `def-${i}`) },
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'OAuth credential service',
        version: '1.0.0',
        description:
          'Manages OAuth API client credentials: a REST resource, and the billing system\'s legacy ' +
          '`/includes/api.php` actions, over one credential service.',
      },
      // Relative, so the document and Swagger UI work wherever the service is deployed.
      servers: [{ url: '/' }],
      tags: [
        { name: 'credentials', description: 'OAuth client credentials (REST).' },
        { name: 'legacy', description: 'The billing system\'s action API, kept byte for byte.' },
      ],
      components: {
        securitySchemes: {
          basicAuth: { type: 'http', scheme: 'basic', description: 'An API credential: identifier and secret.' },
        },
      },
    },
  })

  await fastify.register(opsRoutes, { database })
  await fastify.register(legacyApi, {
    credentials: fastify.credentials,
    apiClients: fastify.apiClients,
    limits: fastify.limits,
    accessKey: config.API_ACCESS_KEY,
  })
  await fastify.register(restApi, {
    prefix: REST_PREFIX,
    credentials: fastify.credentials,
    apiClients: fastify.apiClients,
    limits: fastify.limits,
  })
  await fastify.register(apiDocs)
}

const appPlugin = fp(app, { name: 'oauth-credential-service' })
export default appPlugin

/** Request ids come from `X-Request-Id` when it is sane, so a caller's id follows the request. */
function requestId(request: { headers: Record<string, string | string[] | undefined> }): string {
  const given = request.headers['x-request-id']
  return typeof given === 'string' && /^[\w.:-]{1,128}$/.test(given) ? given : randomUUID()
}

export interface BuiltServer {
  app: FastifyInstance
  /** The admin API credential made on a first start with an empty database, shown once. */
  firstAdmin: { identifier: string; secret: string } | null
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
  const target =
    overrides.database ?? (config.DATABASE_URL ? { url: config.DATABASE_URL } : { dataDir: config.DATA_DIR })
  const database = await openDatabase(target)
  try {
    await database.migrate()
    const fastify = Fastify({
      // Asynchronous: lines are written to stdout off the request path, several per write
      // when busy (the bench measured the synchronous write at ~6 % of a request's time).
      logger: overrides.logger ?? { ...loggerOptions(config.LOG_LEVEL), stream: pino.destination({ sync: false }) },
      genReqId: requestId,
      logController: new RequestLogController(),
      requestIdHeader: false,
      bodyLimit: 64 * 1024,
      trustProxy: trustProxySetting(config.TRUST_PROXY),
      ajv: { customOptions: { removeAdditional: false } },
    })
    fastify.addHook('onRequest', (request, reply, done) => {
      reply.header('x-request-id', request.id)
      done()
    })
    fastify.addHook('onClose', () => database.close())
    await fastify.register(appPlugin, { config, database })
    await fastify.ready()

    let firstAdmin: BuiltServer['firstAdmin'] = null
    if (config.API_BOOTSTRAP_IDENTIFIER && config.API_BOOTSTRAP_SECRET) {
      await fastify.apiClients.ensureBootstrap(config.API_BOOTSTRAP_IDENTIFIER, config.API_BOOTSTRAP_SECRET)
    } else {
      firstAdmin = await fastify.apiClients.createFirstAdminIfNone()
    }
    return { app: fastify, firstAdmin }
  } catch (error) {
    await database.close().catch(() => {})
    throw error
  }
}
