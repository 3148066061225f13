-- Each process also remembers identifiers that name no active API credential
-- (src/api-clients/service.ts), so that a known and an unknown identifier cost the same and a
-- prober cannot tell them apart. A new API credential must then reach them too: the trigger
-- now fires on INSERT as well, with the new row's identifier.
CREATE OR REPLACE FUNCTION "api_credential_changed_notify"() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('api_credential_changed', CASE WHEN TG_OP = 'INSERT' THEN NEW."identifier" ELSE OLD."identifier" END);
    RETURN NULL;
END
$$;

DROP TRIGGER "api_credential_changed" ON "api_credential";
CREATE TRIGGER "api_credential_changed" AFTER INSERT OR UPDATE OR DELETE ON "api_credential" FOR EACH ROW
    EXECUTE FUNCTION "api_credential_changed_notify"();
