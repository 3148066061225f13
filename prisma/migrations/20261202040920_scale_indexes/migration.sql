-- Indexes for a million credentials (docs/scaling.md): the grant-type filter pages in id order,
-- and audit retention (AUDIT_RETENTION_DAYS) finds the oldest events without a scan. Plain
-- CREATE INDEX blocks writes to the table while it builds: seconds at a million rows.

-- DropIndex
DROP INDEX "credential_grant_type_idx";

-- CreateIndex
CREATE INDEX "audit_event_created_at_idx" ON "audit_event"("created_at");

-- CreateIndex
CREATE INDEX "credential_grant_type_id_idx" ON "credential"("grant_type", "id");
