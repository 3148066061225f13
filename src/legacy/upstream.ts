import { Readable } from 'node:stream'
import type { FastifyReply, FastifyRequest, preParsingHookHandler } from 'fastify'
import { canonicalAddress } from '../api-clients/access.js'
import { legacyMessages } from './messages.js'

export interface UpstreamSettings {
  /** The original's `…/includes/api.php` (LEGACY_UPSTREAM_URL). */
  url: string
  /** How long the upstream may take to answer, body included (LEGACY_UPSTREAM_TIMEOUT_MS). */
  timeoutMs: number
}

/** Why a request could not be forwarded; api.php answers it in the caller's responsetype. */
export class ForwardFailed extends Error {
  constructor(
    readonly statusCode: 413 | 502 | 504,
    message: string,
  ) {
    super(message)
    this.name = 'ForwardFailed'
  }
}

/** Headers of one connection (RFC 9110 §7.6.1): never forwarded. */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
])
/**
 * Headers this hop writes itself: the upstream's host, the body's length, the client chain,
 * the encoding (identity, so the answer streams back as the upstream wrote it), and the
 * request id (the caller's when it sent a sane one), so one call can be found in both logs.
 */
const REWRITTEN = new Set(['host', 'content-length', 'expect', 'x-forwarded-for', 'accept-encoding', 'x-request-id'])
/**
 * Other claims of who the client is or how it came: any caller can write them, and the original
 * may believe one (an allow-list reading X-Real-IP). This hop vouches for X-Forwarded-For alone.
 */
const CLIENT_CLAIMS = new Set(['forwarded', 'x-real-ip', 'x-client-ip', 'true-client-ip', 'cf-connecting-ip', 'x-cluster-client-ip'])
const isClientClaim = (name: string) => CLIENT_CLAIMS.has(name) || name.startsWith('x-forwarded-')

/**
 * The strangler's pass-through: api.php actions this service does not own go to the original
 * unchanged (method, query string, body bytes, content type), and its answer comes back
 * unchanged, streamed. The upstream authenticates them.
 */
export function legacyUpstream(settings: UpstreamSettings) {
  const bodies = new WeakMap<FastifyRequest, Promise<Buffer<ArrayBuffer> | null>>()

  /**
   * A preParsing hook: keeps the body's bytes while the usual parsers (form, JSON, multipart)
   * read the same stream, since which action it is is known only once they have. Paused
   * first, so listening does not start the flow: the parser that reads it does, and both
   * see every chunk. Null when the body is larger than the route admits.
   */
  const keepBody: preParsingHookHandler = (request, _reply, payload, done) => {
    if (request.method === 'GET') return done(null, payload)
    const limit = request.routeOptions.bodyLimit ?? Infinity
    const chunks: Buffer[] = []
    let size = 0
    payload.pause()
    const kept = new Promise<Buffer<ArrayBuffer> | null>((resolve, reject) => {
      payload.on('data', (chunk: Buffer) => {
        size += chunk.length
        if (size <= limit) chunks.push(chunk)
      })
      payload.once('end', () => resolve(size <= limit ? Buffer.concat(chunks, size) : null))
      payload.once('error', reject)
    })
    kept.catch(() => {}) // a broken body is the parser's to report
    bodies.set(request, kept)
    done(null, payload)
  }

  /** The body's bytes as they came (undefined for a GET; null past the body limit). */
  const keptBody = (request: FastifyRequest) => (request.method === 'GET' ? undefined : bodies.get(request))

  async function forward(request: FastifyRequest, reply: FastifyReply, action: string) {
    const body = await keptBody(request)
    if (body === null) throw new ForwardFailed(413, legacyMessages.bodyTooLarge)
    const signal = AbortSignal.timeout(settings.timeoutMs)
    const url = request.raw.url ?? ''
    const query = url.includes('?') ? url.slice(url.indexOf('?')) : ''
    let answer: Response
    let first: IteratorResult<Uint8Array> | undefined
    let rest: AsyncIterator<Uint8Array> | undefined
    try {
      answer = await fetch(settings.url + query, {
        method: request.method,
        headers: forwardedHeaders(request),
        body,
        redirect: 'manual',
        signal,
      })
      // The status is committed with the first bytes of the body: until they come, a timeout
      // can still answer 504.
      rest = (answer.body as AsyncIterable<Uint8Array> | null)?.[Symbol.asyncIterator]()
      first = await rest?.next()
    } catch (error) {
      request.log.warn({ forwarded: true, action, err: (error as Error).cause ?? error }, 'upstream api.php failed')
      throw signal.aborted
        ? new ForwardFailed(504, legacyMessages.upstreamTimeout(settings.timeoutMs))
        : new ForwardFailed(502, legacyMessages.upstreamUnreachable)
    }
    request.log.info({ forwarded: true, action, upstreamStatus: answer.status }, 'forwarded to the upstream api.php')
    reply.code(answer.status)
    const type = answer.headers.get('content-type')
    if (type !== null) reply.header('content-type', type)
    if (first === undefined || rest === undefined || first.done) return reply.send('')
    // Past the timeout while streaming, the body stream fails and the connection is cut.
    return reply.send(Readable.from(continued(first.value, rest), { objectMode: false }))
  }

  return { keepBody, keptBody, forward }
}

async function* continued(first: Uint8Array, rest: AsyncIterator<Uint8Array>) {
  yield first
  for (let next = await rest.next(); !next.done; next = await rest.next()) yield next.value
}

/** The caller's end-to-end headers, with the client chain this service vouches for. */
function forwardedHeaders(request: FastifyRequest): Headers {
  const named = String(request.headers.connection ?? '')
    .split(',')
    .map((name) => name.trim().toLowerCase())
  const headers = new Headers()
  for (const [name, value] of Object.entries(request.headers)) {
    if (value === undefined || HOP_BY_HOP.has(name) || REWRITTEN.has(name) || isClientClaim(name) || named.includes(name)) continue
    for (const item of Array.isArray(value) ? value : [value]) headers.append(name, item)
  }
  // TRUST_PROXY decides how much of the incoming X-Forwarded-For is believed (request.ips:
  // this hop's peer first); an untrusted chain is replaced by the peer's address.
  headers.set('x-forwarded-for', [...(request.ips ?? [request.ip])].reverse().map(canonicalAddress).join(', '))
  headers.set('accept-encoding', 'identity')
  headers.set('x-request-id', request.id)
  return headers
}
