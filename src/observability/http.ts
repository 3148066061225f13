import { createServer, type Server } from 'node:http'
import { performance } from 'node:perf_hooks'
import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import { metrics } from './metrics.js'

export const METRICS_PATH = '/metrics'

export interface MetricsSettings {
  enabled: boolean
  /** Serve /metrics on this port of `host` instead of the main listener. */
  port?: number
  host: string
}

/**
 * Request metrics for every route, and GET /metrics: on the main listener, or, with a port of
 * its own, on a separate listener that opens when the app is ready and closes with the app.
 */
async function metricsPlugin(app: FastifyInstance, settings: MetricsSettings) {
  metrics.setEnabled(settings.enabled)
  if (!settings.enabled) return

  // One hook per request, at its end (its start is counted in the app's own `onRequest` hook:
  // src/app.ts). Unmatched requests (404) share one label, so callers cannot mint new series.
  app.addHook('onResponse', (request, reply, done) => {
    metrics.requestFinished(request.routeOptions.url ?? 'unmatched', request.method, reply.statusCode, reply.elapsedTime / 1000)
    done()
  })
  // A request its client gave up on gets no onResponse: without this it would stay in flight.
  app.addHook('onRequestAbort', (_request, done) => {
    metrics.requestAbandoned()
    done()
  })

  if (settings.port === undefined) {
    app.get(METRICS_PATH, { schema: { hide: true }, config: { quietLog: true } }, async (_request, reply) => {
      const { contentType, text } = await metrics.scrape()
      return reply.type(contentType).send(text)
    })
    return
  }

  const port = settings.port
  let server: Server | undefined
  // onReady, not onListen: Fastify only logs an onListen hook's error, so a port in use would
  // leave a replica running, and ready, without metrics. onReady's rejects the start.
  app.addHook('onReady', async () => {
    server = createServer((request, response) => {
      // Counted and timed like the main listener's requests, under the same labels.
      const started = performance.now()
      metrics.requestStarted()
      const route = request.method === 'GET' && request.url?.split('?')[0] === METRICS_PATH ? METRICS_PATH : 'unmatched'
      response.once('finish', () => metrics.requestFinished(route, request.method ?? 'GET', response.statusCode, (performance.now() - started) / 1000))
      if (route !== METRICS_PATH) {
        response.writeHead(404).end()
        return
      }
      metrics.scrape().then(
        ({ contentType, text }) => response.writeHead(200, { 'content-type': contentType }).end(text),
        (error: unknown) => {
          app.log.error({ err: error }, 'metrics scrape failed')
          response.writeHead(500).end()
        },
      )
    })
    await new Promise<void>((resolve, reject) => {
      server!.once('error', reject).listen(port, settings.host, () => resolve())
    })
    app.log.info({ port: (server.address() as { port: number }).port }, 'metrics listening')
  })
  app.addHook('onClose', async () => {
    if (server?.listening) await new Promise((resolve) => server!.close(resolve))
  })
}

export default fp(metricsPlugin, { name: 'metrics' })
