import type { FastifyRequest } from 'fastify'
import { RESPONSE_TYPES, type ResponseType } from './format.js'
import { legacyMessages } from './messages.js'
import { parseForm, tooManyParameters, type LegacyParams } from './params.js'

/** The raw query string of a request, as PHP sees it before parsing. */
export function queryString(request: FastifyRequest): string {
  const url = request.raw.url ?? ''
  const start = url.indexOf('?')
  return start === -1 ? '' : url.slice(start + 1)
}

/** Fastify's 413 for a body past its bodyLimit, as every other body type gets it. */
function bodyTooLarge(): Error {
  return Object.assign(new Error(legacyMessages.bodyTooLarge), { statusCode: 413, code: 'FST_ERR_CTP_BODY_TOO_LARGE' })
}

/**
 * Holds a multipart body to the bodyLimit other bodies have: the multipart plugin reads the
 * request itself, past Fastify's limit, and only truncates each field. A declared length over
 * the limit is refused before anything is read; a chunked body is cut off once it passes it.
 */
function limitMultipart(request: FastifyRequest): void {
  const limit = request.routeOptions.bodyLimit ?? request.server.initialConfig.bodyLimit
  if (Number(request.headers['content-length'] ?? 0) > limit) throw bodyTooLarge()
  let received = 0
  const count = (chunk: Buffer) => {
    received += chunk.length
    if (received <= limit) return
    request.raw.off('data', count)
    // The multipart plugin stops reading and throws what the request fails with.
    request.raw.emit('error', bodyTooLarge())
  }
  request.raw.on('data', count)
}

/** PHP's `$_REQUEST`: the query string, overridden by the body, whatever its encoding. */
export async function readParams(request: FastifyRequest): Promise<LegacyParams> {
  const query = parseForm(queryString(request))
  if (request.isMultipart()) {
    limitMultipart(request)
    const fields = new URLSearchParams()
    try {
      for await (const part of request.parts()) {
        if (part.type === 'field') fields.append(part.fieldname, String(part.value))
      }
    } catch (error) {
      // The multipart plugin's limits carry their status (413); busboy's parse errors do not.
      const code = (error as { code?: string }).code
      if (code === 'FST_PARTS_LIMIT' || code === 'FST_FIELDS_LIMIT') throw tooManyParameters()
      if ((error as { statusCode?: number }).statusCode) throw error
      throw Object.assign(new Error('The multipart/form-data body is malformed.'), { statusCode: 400 })
    }
    return { ...query, ...parseForm(fields.toString()) }
  }
  const body = request.body
  return body !== null && typeof body === 'object' && !Array.isArray(body) ? { ...query, ...body } : query
}

/** A parameter the checks read: anything but one plain string (e.g. `action[]=x`) counts as missing. */
export function plain(value: unknown): string {
  return typeof value === 'string' ? value : ''
}

/**
 * The `responsetype` asked for; these actions answer in NVP when it is left out. Null when it
 * came as a list or map (`responsetype=json&responsetype=json`): that is refused, not read as
 * "left out", which would answer NVP to a caller that asked for JSON.
 */
export function requestedType(value: unknown): string | null {
  // A JSON body's false is empty text to PHP, as null is.
  if (value === undefined || value === null || value === '' || value === false) return 'nvp'
  if (typeof value === 'object') return null
  return String(value).toLowerCase()
}

export function isResponseType(type: string | null): type is ResponseType {
  return (RESPONSE_TYPES as readonly string[]).includes(type as string)
}
