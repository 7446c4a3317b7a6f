-- WedSync Hub initial schema.
-- Tenant isolation: every table carrying supplier_id has row-level security keyed on the
-- transaction-local setting app.supplier_id. The app runs its queries as the role wedsync_app
-- (never a superuser, which would bypass RLS), so a forgotten WHERE supplier_id cannot leak.

CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE EXTENSION IF NOT EXISTS btree_gin;

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'wedsync_app') THEN
        CREATE ROLE wedsync_app NOLOGIN NOSUPERUSER NOBYPASSRLS;
    END IF;
END
$$;
-- The connecting user switches to wedsync_app with SET ROLE.
DO $$
BEGIN
    EXECUTE format('GRANT wedsync_app TO %I', current_user);
EXCEPTION WHEN others THEN
    RAISE NOTICE 'could not grant wedsync_app to %: %', current_user, SQLERRM;
END
$$;

-- The supplier id of the current transaction, or NULL when none is set (then RLS shows nothing).
CREATE FUNCTION app_supplier_id() RETURNS bigint
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$ SELECT NULLIF(current_setting('app.supplier_id', true), '')::bigint $$;

CREATE TABLE suppliers (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    business_name  text NOT NULL CHECK (length(business_name) BETWEEN 1 AND 120),
    email          text NOT NULL CHECK (length(email) BETWEEN 3 AND 254),
    password_hash  text NOT NULL,
    default_region text NOT NULL DEFAULT 'GB' CHECK (default_region ~ '^[A-Z]{2}$'),
    is_operator    boolean NOT NULL DEFAULT false,
    created_at     timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX suppliers_email_key ON suppliers (lower(email));

CREATE TABLE clients (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    supplier_id    bigint NOT NULL REFERENCES suppliers (id) ON DELETE CASCADE,
    source         text NOT NULL CHECK (source IN ('manual', 'tave', 'lightblue', 'honeybook', 'csv', 'vcard')),
    external_id    text NOT NULL CHECK (length(external_id) BETWEEN 1 AND 200),
    partner1_first text NOT NULL DEFAULT '' CHECK (length(partner1_first) <= 200),
    partner1_last  text NOT NULL DEFAULT '' CHECK (length(partner1_last) <= 200),
    partner1_email text CHECK (length(partner1_email) <= 254),
    partner1_phone text CHECK (length(partner1_phone) <= 32),
    partner2_first text NOT NULL DEFAULT '' CHECK (length(partner2_first) <= 200),
    partner2_last  text NOT NULL DEFAULT '' CHECK (length(partner2_last) <= 200),
    partner2_email text CHECK (length(partner2_email) <= 254),
    partner2_phone text CHECK (length(partner2_phone) <= 32),
    wedding_date   date,
    venue          text CHECK (length(venue) <= 300),
    status         text NOT NULL DEFAULT 'lead' CHECK (status IN ('lead', 'booked', 'completed', 'archived')),
    lead_source    text CHECK (length(lead_source) <= 200),
    inquiry_date   date,
    booking_date   date,
    version        integer NOT NULL DEFAULT 1,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    -- What the list sorts by: "alex smith & sam jones".
    sort_name      text GENERATED ALWAYS AS (lower(
        trim(partner1_first || ' ' || partner1_last)
        || CASE WHEN partner2_first || partner2_last <> ''
                THEN ' & ' || trim(partner2_first || ' ' || partner2_last) ELSE '' END
    )) STORED,
    -- One trigram-indexed haystack for search by name, email, phone (digits only) or venue.
    search_text    text GENERATED ALWAYS AS (lower(
        partner1_first || ' ' || partner1_last || ' ' || partner2_first || ' ' || partner2_last || ' '
        || coalesce(partner1_email, '') || ' ' || coalesce(partner2_email, '') || ' '
        || regexp_replace(coalesce(partner1_phone, '') || ' ' || coalesce(partner2_phone, ''), '[^0-9 ]', '', 'g')
        || ' ' || coalesce(venue, '')
    )) STORED,
    CONSTRAINT clients_source_key UNIQUE (supplier_id, source, external_id)
);
CREATE INDEX clients_list_idx ON clients (supplier_id, sort_name, id);
CREATE INDEX clients_wedding_idx ON clients (supplier_id, wedding_date, id) WHERE wedding_date IS NOT NULL;
CREATE INDEX clients_search_idx ON clients USING gin (supplier_id, search_text gin_trgm_ops);
CREATE INDEX clients_email1_idx ON clients (supplier_id, partner1_email) WHERE partner1_email IS NOT NULL;

CREATE TABLE client_notes (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    supplier_id bigint NOT NULL REFERENCES suppliers (id) ON DELETE CASCADE,
    client_id   bigint NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    body        text NOT NULL CHECK (length(body) BETWEEN 1 AND 5000),
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX client_notes_client_idx ON client_notes (supplier_id, client_id, created_at DESC, id DESC);

CREATE TABLE crm_integrations (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    supplier_id      bigint NOT NULL REFERENCES suppliers (id) ON DELETE CASCADE,
    provider         text NOT NULL CHECK (provider IN ('tave', 'lightblue', 'honeybook', 'csv', 'vcard')),
    name             text NOT NULL CHECK (length(name) BETWEEN 1 AND 120),
    base_url         text,
    -- Fernet token (AES-128-CBC + HMAC-SHA256); the key lives outside the database.
    secret_encrypted bytea,
    settings         jsonb NOT NULL DEFAULT '{}'::jsonb,
    sync_cursor      jsonb,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX crm_integrations_supplier_idx ON crm_integrations (supplier_id, id);

CREATE TABLE sync_jobs (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    supplier_id      bigint NOT NULL REFERENCES suppliers (id) ON DELETE CASCADE,
    integration_id   bigint REFERENCES crm_integrations (id) ON DELETE SET NULL,
    kind             text NOT NULL CHECK (kind IN ('full_import', 'incremental_sync', 'export_to_crm', 'file_import', 'ping')),
    source           text NOT NULL,
    status           text NOT NULL DEFAULT 'queued'
                     CHECK (status IN ('queued', 'running', 'succeeded', 'partially_succeeded', 'failed', 'cancelled')),
    total            integer,
    processed        integer NOT NULL DEFAULT 0,
    created_count    integer NOT NULL DEFAULT 0,
    updated_count    integer NOT NULL DEFAULT 0,
    unchanged_count  integer NOT NULL DEFAULT 0,
    failed_count     integer NOT NULL DEFAULT 0,
    checkpoint       jsonb,
    message          text,
    cancel_requested boolean NOT NULL DEFAULT false,
    created_at       timestamptz NOT NULL DEFAULT now(),
    started_at       timestamptz,
    finished_at      timestamptz,
    updated_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX sync_jobs_supplier_idx ON sync_jobs (supplier_id, created_at DESC, id DESC);

CREATE TABLE sync_job_errors (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    supplier_id bigint NOT NULL REFERENCES suppliers (id) ON DELETE CASCADE,
    job_id      bigint NOT NULL REFERENCES sync_jobs (id) ON DELETE CASCADE,
    line        integer,
    field       text,
    reason      text NOT NULL,
    raw         jsonb,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX sync_job_errors_job_idx ON sync_job_errors (supplier_id, job_id, id);

-- Stored first responses for Idempotency-Key replays (IETF httpapi-idempotency-key draft semantics).
CREATE TABLE idempotency_keys (
    supplier_id      bigint NOT NULL REFERENCES suppliers (id) ON DELETE CASCADE,
    key              text NOT NULL CHECK (length(key) BETWEEN 8 AND 255),
    request_hash     text NOT NULL,
    state            text NOT NULL DEFAULT 'in_progress' CHECK (state IN ('in_progress', 'done')),
    response_status  integer,
    response_headers jsonb,
    response_body    bytea,
    created_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (supplier_id, key)
);
CREATE INDEX idempotency_keys_created_idx ON idempotency_keys (created_at);

-- Row-level security on every tenant table.
DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['clients', 'client_notes', 'crm_integrations', 'sync_jobs', 'sync_job_errors',
                             'idempotency_keys']
    LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format(
            'CREATE POLICY tenant_isolation ON %I USING (supplier_id = app_supplier_id()) '
            'WITH CHECK (supplier_id = app_supplier_id())', t);
        EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON %I TO wedsync_app', t);
    END LOOP;
END
$$;

-- Suppliers are looked up by email before anyone is signed in, so the table has no tenant policy;
-- the app role may read and create suppliers but never delete them.
GRANT SELECT, INSERT, UPDATE ON suppliers TO wedsync_app;
GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO wedsync_app;
GRANT EXECUTE ON FUNCTION app_supplier_id() TO wedsync_app;
