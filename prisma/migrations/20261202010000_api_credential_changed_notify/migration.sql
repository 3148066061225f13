-- Processes keep the API credentials their callers present for a few seconds
-- (src/api-clients/service.ts). Every change of one (revoked, re-created, a new secret, other
-- permissions or addresses) and every deletion tells them all to drop it, at commit, so a
-- revocation made by the CLI or by any replica applies everywhere at once.
CREATE FUNCTION "api_credential_changed_notify"() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('api_credential_changed', OLD."identifier");
    RETURN NULL;
END
$$;

CREATE TRIGGER "api_credential_changed" AFTER UPDATE OR DELETE ON "api_credential" FOR EACH ROW
    EXECUTE FUNCTION "api_credential_changed_notify"();
