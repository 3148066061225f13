
-- CreateEnum
CREATE TYPE "GrantType" AS ENUM ('authorization_code', 'single_sign_on');

-- CreateTable
CREATE TABLE "credential" (
    "id" SERIAL NOT NULL,
    "client_identifier" VARCHAR(128) NOT NULL,
    "secret_hash" TEXT NOT NULL,
    "previous_secret_hash" TEXT,
    "previous_secret_expires_at" TIMESTAMPTZ(3),
    "name" VARCHAR(255) NOT NULL DEFAULT '',
    "description" VARCHAR(255) NOT NULL DEFAULT '',
    "grant_type" "GrantType" NOT NULL,
    "service_id" INTEGER,
    "logo_uri" VARCHAR(255),
    "version" INTEGER NOT NULL DEFAULT 1,
    "last_used_at" TIMESTAMPTZ(3),
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "credential_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "scope" (
    "name" VARCHAR(64) NOT NULL,

    CONSTRAINT "scope_pkey" PRIMARY KEY ("name")
);

-- CreateTable
CREATE TABLE "credential_scope" (
    "credential_id" INTEGER NOT NULL,
    "scope_name" VARCHAR(64) NOT NULL,
    "position" INTEGER NOT NULL,

    CONSTRAINT "credential_scope_pkey" PRIMARY KEY ("credential_id","scope_name")
);

-- CreateTable
CREATE TABLE "credential_redirect_uri" (
    "credential_id" INTEGER NOT NULL,
    "position" INTEGER NOT NULL,
    "uri" VARCHAR(2000) NOT NULL,

    CONSTRAINT "credential_redirect_uri_pkey" PRIMARY KEY ("credential_id","position")
);

-- CreateTable
CREATE TABLE "api_credential" (
    "id" SERIAL NOT NULL,
    "identifier" VARCHAR(128) NOT NULL,
    "secret_hash" TEXT NOT NULL,
    "description" VARCHAR(255) NOT NULL DEFAULT '',
    "permissions" TEXT[],
    "allowed_ips" TEXT[],
    "revoked_at" TIMESTAMPTZ(3),
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "api_credential_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "audit_event" (
    "id" BIGSERIAL NOT NULL,
    "credential_id" INTEGER NOT NULL,
    "actor" VARCHAR(128) NOT NULL,
    "action" VARCHAR(64) NOT NULL,
    "changed_fields" TEXT[],
    "request_id" VARCHAR(128),
    "source" VARCHAR(16) NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "audit_event_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE UNIQUE INDEX "credential_client_identifier_key" ON "credential"("client_identifier");

-- CreateIndex
CREATE INDEX "credential_grant_type_idx" ON "credential"("grant_type");

-- CreateIndex
CREATE UNIQUE INDEX "credential_redirect_uri_credential_id_uri_key" ON "credential_redirect_uri"("credential_id", "uri");

-- CreateIndex
CREATE UNIQUE INDEX "api_credential_identifier_key" ON "api_credential"("identifier");

-- CreateIndex
CREATE INDEX "audit_event_credential_id_id_idx" ON "audit_event"("credential_id", "id");

-- AddForeignKey
ALTER TABLE "credential_scope" ADD CONSTRAINT "credential_scope_credential_id_fkey" FOREIGN KEY ("credential_id") REFERENCES "credential"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "credential_scope" ADD CONSTRAINT "credential_scope_scope_name_fkey" FOREIGN KEY ("scope_name") REFERENCES "scope"("name") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "credential_redirect_uri" ADD CONSTRAINT "credential_redirect_uri_credential_id_fkey" FOREIGN KEY ("credential_id") REFERENCES "credential"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- Seed the scope catalogue (SPEC §2). Later catalogue changes come as new migrations.
INSERT INTO "scope" ("name") VALUES
    ('clientarea:sso'), ('clientarea:profile'), ('clientarea:billing_info'), ('clientarea:emails'),
    ('clientarea:announcements'), ('clientarea:downloads'), ('clientarea:knowledgebase'),
    ('clientarea:network_status'), ('clientarea:services'), ('clientarea:product_details'),
    ('clientarea:domains'), ('clientarea:domain_details'), ('clientarea:invoices'),
    ('clientarea:tickets'), ('clientarea:submit_ticket'), ('clientarea:shopping_cart'),
    ('clientarea:shopping_cart_addons'), ('clientarea:shopping_cart_domain_register'),
    ('clientarea:shopping_cart_domain_transfer'), ('clientarea:upgrade'),
    ('openid'), ('email'), ('profile');
