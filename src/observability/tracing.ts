import { SpanKind, SpanStatusCode, trace, type Tracer } from '@opentelemetry/api'

/*
 * Traces are off unless the standard OTEL_* variables ask for them (tracingRequested); then
 * server.ts loads ./start-tracing.js, the only module that loads the OpenTelemetry SDK, before
 * Fastify and pg. This module holds only what the running code needs from the API package.
 */

/** Whether the environment asks for traces, read the way the OpenTelemetry SDK reads it. */
export function tracingRequested(env: NodeJS.ProcessEnv): boolean {
  if (env.OTEL_SDK_DISABLED?.trim().toLowerCase() === 'true') return false
  const exporters = env.OTEL_TRACES_EXPORTER?.trim().toLowerCase()
  if (exporters === 'none') return false
  return Boolean(exporters || env.OTEL_EXPORTER_OTLP_ENDPOINT || env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT)
}

let statementTracer: Tracer | undefined

/** Called by start-tracing.ts: from then on each database statement is a span. */
export function traceStatements(): void {
  statementTracer = trace.getTracer('oauth-credential-service.db')
}

/**
 * Runs one statement inside a client span named by the statement (`credential.write`), on
 * either database, under the request that runs it; without tracing, or outside a traced request
 * (a readiness probe's ping, the start's statements), it just runs it: a statement alone is not
 * worth a trace. Parameters are never recorded: they carry secret hashes.
 */
export function statementSpan<T>(statement: string, system: 'postgresql' | 'pglite', work: () => Promise<T>): Promise<T> {
  if (statementTracer === undefined || trace.getActiveSpan() === undefined) return work()
  const attributes = { 'db.system.name': 'postgresql', 'db.query.summary': statement, 'oauth.db.engine': system }
  return statementTracer.startActiveSpan(statement, { kind: SpanKind.CLIENT, attributes }, async (span) => {
    try {
      return await work()
    } catch (error) {
      span.setStatus({ code: SpanStatusCode.ERROR, message: (error as Error).name })
      throw error
    } finally {
      span.end()
    }
  })
}
