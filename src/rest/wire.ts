import type { AuditEvent, Credential } from '../credentials/credential.js'
import { joinScopes } from '../schemas/credential.js'
import { etagOf } from './etag.js'
import type { CredentialBody } from './schemas.js'

/** A credential as REST clients see it (CredentialSchema). */
export function credentialBody(credential: Credential): CredentialBody {
  return {
    credentialId: credential.credentialId,
    etag: etagOf(credential),
    clientIdentifier: credential.clientIdentifier,
    name: credential.name,
    description: credential.description,
    grantType: credential.grantType,
    scope: joinScopes(credential.scopes),
    serviceId: credential.serviceId,
    logoUri: credential.logoUri,
    redirectUri: credential.redirectUris,
    version: credential.version,
    lastUsedAt: credential.lastUsedAt?.toISOString() ?? null,
    previousSecretExpiresAt: credential.previousSecretExpiresAt?.toISOString() ?? null,
    createdAt: credential.createdAt.toISOString(),
    updatedAt: credential.updatedAt.toISOString(),
  }
}

/** An audit event as REST clients see it (AuditEventSchema). */
export function eventBody(event: AuditEvent) {
  return { ...event, createdAt: event.createdAt.toISOString() }
}
