import swagger from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'
import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import { SWAGGER_UI_SETUP } from './swagger-ui-setup.js'

/** CSP hash of the inline style Swagger UI injects (the browser names it when it is refused). */
const SWAGGER_UI_STYLE_HASH = 'sha256-RL3ie0nH+Lzz2YNqQN83mnU0J1ot4QL7b99vMdIX99w='

/**
 * The OpenAPI document, made from the schemas of every route registered after this plugin
 * (so register it first), served at /openapi.json, and Swagger UI at /docs from local assets.
 */
async function apiDocs(app: FastifyInstance) {
  await app.register(swagger, {
    // The document is OpenAPI (openapiObject), never Swagger 2.
    transformObject: (document) => withRequiredHeaders((document as { openapiObject: OpenApiDocument }).openapiObject),
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
        { name: 'ops', description: 'Probes for orchestrators and load balancers.' },
      ],
      components: {
        securitySchemes: {
          basicAuth: { type: 'http', scheme: 'basic', description: 'An API credential: identifier and secret.' },
        },
      },
    },
  })
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger())
  await app.register(swaggerUi, {
    routePrefix: '/docs',
    uiConfig: { deepLinking: true, tryItOutEnabled: false },
    theme: { js: [{ filename: 'setup.js', content: SWAGGER_UI_SETUP }] },
    staticCSP: true,
    // Swagger UI 5 adds one <style> element of its own, which the plugin's policy omits.
    transformStaticCSP: (policy) => policy.replace("style-src 'self' https:", `style-src 'self' https: '${SWAGGER_UI_STYLE_HASH}'`),
  })
}

export default fp(apiDocs, { name: 'api-docs' })

interface ResponseHeader {
  schema?: { required?: boolean }
  required?: boolean
}

interface OpenApiDocument {
  paths: Record<string, Record<string, { tags?: string[]; responses?: Record<string, { headers?: Record<string, ResponseHeader> }> }>>
  tags?: { name: string }[]
  components: { schemas?: Record<string, unknown> }
}

/**
 * A header its route marks as always sent (`always`, src/rest/openapi.ts) is a required header
 * of that answer: Fastify's swagger copies the mark into the header's schema, where it means
 * nothing, so it is moved out.
 */
function withRequiredHeaders<D extends OpenApiDocument>(document: D): D {
  for (const operations of Object.values(document.paths ?? {})) {
    for (const operation of Object.values(operations)) {
      for (const response of Object.values(operation.responses ?? {})) {
        for (const header of Object.values(response.headers ?? {})) {
          if (header.schema?.required !== true) continue
          delete header.schema.required
          header.required = true
        }
      }
    }
  }
  return document
}

/** What SDKs are generated from: the REST resource alone, without api.php and the probes. */
export const SDK_TAGS = ['credentials']

/**
 * The document with only the operations tagged with one of `tags`, and only the schemas they
 * reach, so a generator makes no types or services for the rest.
 */
function documentFor(document: OpenApiDocument, tags: readonly string[]): OpenApiDocument {
  const tagged = (operation: { tags?: string[] }) => operation.tags?.some((tag) => tags.includes(tag)) ?? false
  const paths = Object.fromEntries(
    Object.entries(document.paths)
      .map(([path, operations]) => [path, Object.fromEntries(Object.entries(operations).filter(([, operation]) => tagged(operation)))])
      .filter(([, operations]) => Object.keys(operations as object).length > 0),
  )
  const schemas = document.components.schemas ?? {}
  const reached = new Set<string>()
  const visit = (node: unknown): void => {
    if (Array.isArray(node)) return node.forEach(visit)
    if (node === null || typeof node !== 'object') return
    for (const [key, value] of Object.entries(node)) {
      const name = key === '$ref' && typeof value === 'string' ? value.replace('#/components/schemas/', '') : undefined
      if (name !== undefined && !reached.has(name)) {
        reached.add(name)
        visit(schemas[name])
      } else visit(value)
    }
  }
  visit(paths)
  return {
    ...document,
    paths,
    tags: document.tags?.filter((tag) => tags.includes(tag.name)),
    components: { ...document.components, schemas: Object.fromEntries(Object.entries(schemas).filter(([name]) => reached.has(name))) },
  }
}

/**
 * The documents as committed in openapi/: the same bytes for the same code. With tags, only
 * their operations (documentFor).
 */
export function renderOpenApi(app: FastifyInstance, tags?: readonly string[]): string {
  const document = app.swagger() as unknown as OpenApiDocument
  return `${JSON.stringify(tags ? documentFor(document, tags) : document, null, 2)}\n`
}
