-- A change of a credential is now one data-modifying statement, written once in
-- src/credentials/storage.ts (WRITE), beside the code that calls it. Measured against this
-- function with npm run bench and with 2,000 sequential updates, it costs the same and keeps
-- the same single round trip and atomic effect, so the function goes.
DROP FUNCTION "credential_write"(
    INTEGER, INTEGER, VARCHAR, VARCHAR, "GrantType", INTEGER, VARCHAR, TEXT, TEXT, TIMESTAMPTZ,
    TEXT[], TEXT[], VARCHAR, TEXT[], VARCHAR, VARCHAR, VARCHAR, TIMESTAMPTZ
);
