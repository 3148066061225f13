/**
 * The credential service's hot statements in plain SQL, sent with Database.query rather than
 * through Prisma's runtime (README, Performance). The bench's floor sends these same strings.
 */

/** A credential with its scopes and redirect URIs in one statement (`findUnique({ include })` takes three). */
const CREDENTIAL_SELECT = `
  SELECT c.id, c.client_identifier AS "clientIdentifier", c.secret_hash AS "secretHash",
    c.previous_secret_hash AS "previousSecretHash", c.previous_secret_expires_at AS "previousSecretExpiresAt",
    c.name, c.description, c.grant_type::text AS "grantType", c.service_id AS "serviceId", c.logo_uri AS "logoUri",
    c.version, c.last_used_at AS "lastUsedAt", c.created_at AS "createdAt", c.updated_at AS "updatedAt",
    ARRAY(SELECT s.scope_name FROM credential_scope s WHERE s.credential_id = c.id ORDER BY s.position)::text[] AS scopes,
    ARRAY(SELECT r.uri FROM credential_redirect_uri r WHERE r.credential_id = c.id ORDER BY r.position)::text[] AS "redirectUris"
  FROM credential c`

export const READ_BY_ID = `${CREDENTIAL_SELECT} WHERE c.id = $1`
export const READ_BY_CLIENT_IDENTIFIER = `${CREDENTIAL_SELECT} WHERE c.client_identifier = $1`

/**
 * prisma/migrations/20261128000000_credential_write: a change and its audit event, written
 * only if the credential still has the version read ($2). Parameters, in order: id, version
 * read, name, description, grant type, service id, logo URI, secret hash, previous secret
 * hash, previous secret's expiry, scopes, redirect URIs, audit action, changed fields, actor,
 * source, request id, time of the change.
 */
export const WRITE_CREDENTIAL =
  'SELECT * FROM credential_write($1, $2, $3, $4, CAST($5::text AS "GrantType"), $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)'

/** Deletes a credential (its scopes and URIs cascade) and records it, if the version read ($2) still holds. */
export const DELETE_CREDENTIAL = `
  WITH deleted AS (DELETE FROM credential WHERE id = $1 AND version = $2 RETURNING id)
  INSERT INTO audit_event (credential_id, actor, action, changed_fields, source, request_id, created_at)
    SELECT id, $3, 'delete', '{}', $4, $5, $6 FROM deleted
  RETURNING credential_id`

/** Not a change of the credential: neither its version nor updatedAt moves. */
export const TOUCH_LAST_USED = 'UPDATE credential SET last_used_at = $2 WHERE id = $1'
