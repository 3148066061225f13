import type { FastifyReply, FastifyRequest } from 'fastify'
import { MAX_ID } from '../credentials/credential.js'
import { HttpProblem } from './problem.js'

/** Cursors are opaque to clients: the last id of the page, encoded. */
function encodeCursor(id: number): string {
  return Buffer.from(`id:${id}`).toString('base64url')
}

/**
 * The id a `cursor` query parameter carries; undefined when there is none. `max`: credential
 * ids are int4; audit events' are bigint, past 2^31 after two billion events.
 */
export function decodeCursor(cursor: string | undefined, max = MAX_ID): number | undefined {
  if (cursor === undefined) return undefined
  const match = /^id:([1-9]\d{0,15})$/.exec(Buffer.from(cursor, 'base64url').toString('utf8'))
  if (!match || Number(match[1]) > max) {
    const detail = 'The cursor is invalid: pass the `next` value of a previous page.'
    throw new HttpProblem(400, detail, [{ in: 'query', pointer: '/cursor', detail }])
  }
  return Number(match[1])
}

/**
 * Answers one page of `items`, which holds one more than `limit` when there is a next page:
 * `next` in the body, and the same as an RFC 8288 Link header.
 */
export function sendPage<T>(request: FastifyRequest, reply: FastifyReply, items: T[], limit: number, lastId: (item: T) => number) {
  const page = items.slice(0, limit)
  const last = page.at(-1)
  const next = items.length > limit && last !== undefined ? encodeCursor(lastId(last)) : null
  if (next !== null) {
    const url = new URL(request.url, 'http://localhost')
    url.searchParams.set('cursor', next)
    reply.header('link', `<${url.pathname}${url.search}>; rel="next"`)
  }
  return { items: page, next }
}
