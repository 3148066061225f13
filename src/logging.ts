import type { FastifyServerOptions } from 'fastify'
import pino, { type DestinationStream } from 'pino'

type LoggerSettings = Exclude<FastifyServerOptions['logger'], boolean | undefined>

/** Query parameters whose values never reach a log line or a trace: the service's own, and API keys callers send by mistake. */
const SENSITIVE_PARAM = /secret|password|passwd|access_?key|api[-_]?key|token|authorization/i

/** A URL with the values of sensitive query parameters replaced by `[REDACTED]`. */
export function redactUrl(url: string): string {
  const start = url.indexOf('?')
  if (start === -1) return url
  const query = url
    .slice(start + 1)
    .split('&')
    .map((pair) => {
      const name = pair.split('=', 1)[0] ?? ''
      let decoded = name
      try {
        decoded = decodeURIComponent(name)
      } catch {
        // keep the raw name
      }
      return SENSITIVE_PARAM.test(decoded) ? `${name}=[REDACTED]` : pair
    })
    .join('&')
  return `${url.slice(0, start)}?${query}`
}

/** Fields that hold a secret, a password or a key, wherever the service logs them. */
const SECRET_FIELDS = ['secret', 'password', 'clientSecret', 'newClientSecret', 'accesskey', 'secretHash']

/**
 * pino settings: JSON lines, request URLs with secrets masked, and every field that can hold
 * a secret, a password or an authorization header redacted: at the top of a line, in a
 * logged error, and in headers. Named paths rather than wildcards (`*.secret`):
 * wildcards cost ~5 µs a line, four times the rest of the line (measured with pino 10).
 */
export function loggerOptions(level: string): LoggerSettings {
  return {
    level,
    redact: {
      paths: [
        'req.headers.authorization',
        'req.headers.cookie',
        'req.headers["x-api-key"]',
        ...SECRET_FIELDS.flatMap((field) => [field, `err.${field}`]),
        // PGlite attaches a failed query's parameters to its error: they can hold secret digests.
        'err.params',
      ],
      censor: '[REDACTED]',
    },
    serializers: {
      req(request) {
        return {
          method: request.method,
          url: redactUrl(request.url),
          remoteAddress: request.ip,
        }
      },
    },
  }
}

/**
 * Where the service's log lines go: stdout, asynchronously, so that lines are written off the
 * request path, several per write when busy (the bench measured the synchronous write at ~6 %
 * of a request's time).
 *
 * Each line is handed to sonic-boom as bytes: given text, it measures the whole text still
 * waiting to be written again for every line it appends, which cost authenticate about a tenth
 * of its CPU under load (docs/performance.md). pino's own destination keeps flushing what is
 * left when the process exits.
 */
export function logDestination(): DestinationStream {
  const stdout = pino.destination({ sync: false, contentMode: 'buffer' })
  // In buffer mode sonic-boom's write takes bytes; its types know only text.
  return { write: (line: string) => void stdout.write(Buffer.from(line) as unknown as string) }
}
