import type { FastifyRequest } from 'fastify'
import {
  ipAllowed,
  mayRun,
  refusals,
  secretAccepted,
  type Action,
  type ApiClient,
  type ApiClientService,
} from '../api-clients/service.js'
import { setActor } from '../http/request-log.js'
import type { RequestLimits } from '../limits/index.js'
import { CHALLENGE, HttpProblem } from './problem.js'

declare module 'fastify' {
  interface FastifyRequest {
    /** The API client that authenticated this REST request. */
    apiClient?: ApiClient
  }
}


/** `Authorization: Basic base64(identifier:secret)` (RFC 7617), or null when absent or malformed. */
export function basicCredentials(header: string | undefined): { identifier: string; secret: string } | null {
  const match = /^Basic +([A-Za-z0-9+/]+=*) *$/i.exec(header ?? '')
  if (!match?.[1]) return null
  const decoded = Buffer.from(match[1], 'base64').toString('utf8')
  const colon = decoded.indexOf(':')
  if (colon <= 0 || colon === decoded.length - 1) return null
  return { identifier: decoded.slice(0, colon), secret: decoded.slice(colon + 1) }
}

/**
 * Who may call a REST operation: an API credential sent with HTTP Basic, from an allowed
 * address, holding the permission named after the matching api.php action.
 */
export async function authorize(
  apiClients: ApiClientService,
  limits: RequestLimits,
  request: FastifyRequest,
  action: Action,
) {
  await limits.admitAddress(request)
  const refuse = async (detail: string) => {
    await limits.authenticationFailed(request)
    return new HttpProblem(401, detail, undefined, CHALLENGE)
  }
  const given = basicCredentials(request.headers.authorization)
  if (!given) throw await refuse(refusals.missing)
  const client = await apiClients.find(given.identifier)
  if (!secretAccepted(client, given.secret)) throw await refuse(refusals.failed)
  setActor(request, client.identifier)
  await limits.admitCaller(request, client.identifier)
  if (!ipAllowed(client, request.ip)) throw new HttpProblem(403, refusals.address(request.ip))
  if (!mayRun(client, action)) throw new HttpProblem(403, refusals.permission(action))
  request.apiClient = { identifier: client.identifier, permissions: client.permissions, allowedIps: client.allowedIps }
}
