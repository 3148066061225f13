-- The legacy ListOAuthCredentials sorted by name or by creation time reads one page through an
-- index instead of sorting the whole table (1.3 s at a million credentials; docs/scaling.md).
-- Plain CREATE INDEX blocks writes to the table while it builds: seconds at a million rows.

-- CreateIndex
CREATE INDEX "credential_name_id_idx" ON "credential"("name", "id");

-- CreateIndex
CREATE INDEX "credential_created_at_id_idx" ON "credential"("created_at", "id");
