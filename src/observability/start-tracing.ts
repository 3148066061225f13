import { createRequire } from 'node:module'
import { FastifyOtelInstrumentation } from '@fastify/otel'
import { PgInstrumentation } from '@opentelemetry/instrumentation-pg'
import { NodeSDK } from '@opentelemetry/sdk-node'
import { redactUrl } from '../logging.js'
import { METRICS_PATH } from './http.js'
import { traceStatements } from './tracing.js'

/*
 * The OpenTelemetry Node SDK, configured by the standard OTEL_* variables (exporter, endpoint,
 * protocol, headers, sampler, resource, propagators). server.ts imports this module only when
 * tracingRequested() says so, and before it imports Fastify and pg.
 */

/** Probes and scrapes would fill the traces with nothing anyone looks for. */
const UNTRACED = new Set(['/healthz', '/readyz', METRICS_PATH])

const sdk = new NodeSDK({
  serviceName: process.env.OTEL_SERVICE_NAME ? undefined : 'oauth-credential-service',
  instrumentations: [
    new FastifyOtelInstrumentation({
      registerOnInitialization: true,
      ignorePaths: ({ url }) => UNTRACED.has(url.split('?')[0] ?? ''),
      requestHook: (span, request) => {
        // A server span named `METHOD /route/:template`, as the HTTP conventions name them.
        span.updateName(`${request.method} ${request.routeOptions.url ?? 'unmatched'}`)
        // @fastify/otel sets url.path to the whole URL, query included, where api.php callers
        // may put their secret: the path alone, and the query apart with its secrets masked.
        const url = redactUrl(request.url)
        const query = url.indexOf('?')
        if (query === -1) return
        span.setAttribute('url.path', url.slice(0, query))
        span.setAttribute('url.query', url.slice(query + 1))
      },
    }),
    // Statements sent outside a request (the change listener, migrations) start no trace.
    new PgInstrumentation({ requireParentSpan: true }),
  ],
  // Traces only: metrics are Prometheus' (/metrics), logs go to stdout.
  metricReaders: [],
  logRecordProcessors: [],
})
sdk.start()
traceStatements()
// pg is CommonJS; imported from ESM it passes no require hook, so the pg instrumentation would
// never see it. Required here once, it is patched, and the ESM imports share that module object.
createRequire(import.meta.url)('pg')

/** Sends the spans still buffered, then stops: called at shutdown. */
export function stopTracing(): Promise<void> {
  return sdk.shutdown()
}
