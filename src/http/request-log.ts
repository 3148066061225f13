import { LogController, type FastifyReply, type FastifyRequest } from 'fastify'
import { redactUrl } from '../logging.js'

declare module 'fastify' {
  interface FastifyRequest {
    /** Who made the request, once authenticated (see setActor). */
    actor?: string | null
  }
  interface FastifyContextConfig {
    /**
     * A route asked every few seconds by machines (probes, the metrics scrape): its answers
     * below 400 are logged at debug, so they do not bury the requests of callers at info.
     */
    quietLog?: boolean
  }
}

/**
 * Records who made a request, for its closing log line (`actor`); other lines of the request
 * share its reqId. An endpoint calls it once the caller's secret has been checked. (A field,
 * not a second child logger per request: making a child costs about a third of writing the line,
 * docs/performance.md.)
 */
export function setActor(request: FastifyRequest, identifier: string): void {
  request.actor = identifier
}

/**
 * One log line per request, written when the response has been sent: request id (reqId),
 * method, route, URL (secrets masked), status, latency in ms and, once authenticated, the
 * actor. Fastify's "incoming request" line is kept at debug level only (to see requests
 * that never finish), and its "route not found" line is dropped: the one line says it all.
 */
export class RequestLogController extends LogController {
  override incomingRequest(request: FastifyRequest): void {
    request.log.debug({ method: request.method, url: redactUrl(request.url) }, 'incoming request')
  }

  override routeNotFound(): void {}

  override requestCompleted(error: Error | null | undefined, request: FastifyRequest, reply: FastifyReply): void {
    const line = {
      method: request.method,
      route: request.routeOptions.url ?? null,
      url: redactUrl(request.url),
      statusCode: reply.statusCode,
      responseTime: Math.round(reply.elapsedTime * 100) / 100,
      actor: request.actor ?? undefined,
    }
    if (error) request.log.error({ ...line, err: error }, 'request errored')
    else if (reply.statusCode < 400 && request.routeOptions.config.quietLog) request.log.debug(line, 'request completed')
    else request.log.info(line, 'request completed')
  }

  /** 4xx answers are in the request's line already; only server errors need their stack. */
  override defaultErrorLog(error: Error, request: FastifyRequest, reply: FastifyReply): void {
    if (reply.statusCode >= 500) request.log.error({ err: error }, error.message)
  }
}
