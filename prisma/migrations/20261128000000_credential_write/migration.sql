-- A change to an existing credential in one round trip. The service reads the credential,
-- decides the change (every rule lives in src/credentials), then calls this function, which
-- writes the change and its audit event atomically, but only if the credential still has the
-- version that was read. No row comes back when it does not: the service reads it again and
-- decides again. Before this, the same write took five statements in an open transaction.
--
-- p_secret_hash NULL keeps all three secret columns; otherwise they take the three values.
-- p_scopes / p_redirect_uris NULL keep the lists; otherwise the lists are replaced.
-- p_changed_at is the application's clock, which sets every other timestamp too.
CREATE FUNCTION "credential_write"(
    p_id INTEGER,
    p_read_version INTEGER,
    p_name VARCHAR,
    p_description VARCHAR,
    p_grant_type "GrantType",
    p_service_id INTEGER,
    p_logo_uri VARCHAR,
    p_secret_hash TEXT,
    p_previous_secret_hash TEXT,
    p_previous_secret_expires_at TIMESTAMPTZ,
    p_scopes TEXT[],
    p_redirect_uris TEXT[],
    p_action VARCHAR,
    p_changed_fields TEXT[],
    p_actor VARCHAR,
    p_source VARCHAR,
    p_request_id VARCHAR,
    p_changed_at TIMESTAMPTZ
) RETURNS TABLE ("version" INTEGER, "updatedAt" TIMESTAMPTZ, "previousSecretExpiresAt" TIMESTAMPTZ)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
BEGIN
    RETURN QUERY
    UPDATE "credential" AS c SET
        "name" = p_name,
        "description" = p_description,
        "grant_type" = p_grant_type,
        "service_id" = p_service_id,
        "logo_uri" = p_logo_uri,
        "secret_hash" = COALESCE(p_secret_hash, c."secret_hash"),
        "previous_secret_hash" = CASE WHEN p_secret_hash IS NULL THEN c."previous_secret_hash" ELSE p_previous_secret_hash END,
        "previous_secret_expires_at" = CASE WHEN p_secret_hash IS NULL THEN c."previous_secret_expires_at" ELSE p_previous_secret_expires_at END,
        "version" = c."version" + 1,
        "updated_at" = p_changed_at
    WHERE c."id" = p_id AND c."version" = p_read_version
    RETURNING c."version", c."updated_at", c."previous_secret_expires_at";
    IF NOT FOUND THEN
        RETURN;
    END IF;
    IF p_scopes IS NOT NULL THEN
        DELETE FROM "credential_scope" WHERE "credential_id" = p_id;
        INSERT INTO "credential_scope" ("credential_id", "scope_name", "position")
            SELECT p_id, s.name, s.n - 1 FROM unnest(p_scopes) WITH ORDINALITY AS s(name, n);
    END IF;
    IF p_redirect_uris IS NOT NULL THEN
        DELETE FROM "credential_redirect_uri" WHERE "credential_id" = p_id;
        INSERT INTO "credential_redirect_uri" ("credential_id", "position", "uri")
            SELECT p_id, u.n - 1, u.uri FROM unnest(p_redirect_uris) WITH ORDINALITY AS u(uri, n);
    END IF;
    INSERT INTO "audit_event" ("credential_id", "actor", "action", "changed_fields", "request_id", "source", "created_at")
        VALUES (p_id, p_actor, p_action, p_changed_fields, p_request_id, p_source, p_changed_at);
END
$$;

-- Processes keep what authentication read for a few seconds (src/credentials/recently-read.ts).
-- Every change of a credential (its version moves) and every deletion tells them to drop it,
-- at commit. Recording lastUsedAt is not a change and says nothing.
CREATE FUNCTION "credential_changed_notify"() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('credential_changed', OLD."client_identifier");
    RETURN NULL;
END
$$;

CREATE TRIGGER "credential_changed" AFTER UPDATE ON "credential" FOR EACH ROW
    WHEN (OLD."version" IS DISTINCT FROM NEW."version")
    EXECUTE FUNCTION "credential_changed_notify"();

CREATE TRIGGER "credential_deleted" AFTER DELETE ON "credential" FOR EACH ROW
    EXECUTE FUNCTION "credential_changed_notify"();
