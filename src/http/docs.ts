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

/** The document as committed in openapi/openapi.json: the same bytes for the same code. */
export function renderOpenApi(app: FastifyInstance): string {
  return `${JSON.stringify(app.swagger(), null, 2)}\n`
}
