-- Import engine: uploaded files (chunked, so any worker on any machine can stream them),
-- possible duplicates found across sources, and what a job needs to resume.

-- 'draft': an uploaded file waiting for the photographer to check the preview and confirm.
ALTER TABLE sync_jobs DROP CONSTRAINT sync_jobs_status_check;
ALTER TABLE sync_jobs ADD CONSTRAINT sync_jobs_status_check
    CHECK (status IN ('draft', 'queued', 'running', 'succeeded', 'partially_succeeded', 'failed', 'cancelled'));
ALTER TABLE sync_jobs
    ADD COLUMN options  jsonb NOT NULL DEFAULT '{}'::jsonb,   -- mapping, file name, preset: never secrets
    ADD COLUMN attempts integer NOT NULL DEFAULT 0;

CREATE TABLE import_upload_chunks (
    supplier_id bigint NOT NULL REFERENCES suppliers (id) ON DELETE CASCADE,
    job_id      bigint NOT NULL REFERENCES sync_jobs (id) ON DELETE CASCADE,
    seq         integer NOT NULL,
    data        bytea NOT NULL,
    PRIMARY KEY (job_id, seq)
);

CREATE TABLE sync_job_duplicates (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    supplier_id     bigint NOT NULL REFERENCES suppliers (id) ON DELETE CASCADE,
    job_id          bigint NOT NULL REFERENCES sync_jobs (id) ON DELETE CASCADE,
    client_id       bigint NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    other_client_id bigint NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    reason          text NOT NULL,
    UNIQUE (job_id, client_id, other_client_id)
);
CREATE INDEX sync_job_duplicates_job_idx ON sync_job_duplicates (supplier_id, job_id, id);
CREATE INDEX clients_couple_date_idx ON clients (supplier_id, wedding_date, lower(partner1_last))
    WHERE wedding_date IS NOT NULL;

DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['import_upload_chunks', 'sync_job_duplicates']
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
GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO wedsync_app;

-- Leads sent to a CRM that only takes data in (Light Blue): one row per client and integration, so an
-- export job that is retried or run again never posts the same lead twice.
CREATE TABLE crm_exports (
    supplier_id    bigint NOT NULL REFERENCES suppliers (id) ON DELETE CASCADE,
    integration_id bigint NOT NULL REFERENCES crm_integrations (id) ON DELETE CASCADE,
    client_id      bigint NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    outcome        text NOT NULL,
    exported_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (integration_id, client_id)
);
ALTER TABLE crm_exports ENABLE ROW LEVEL SECURITY;
ALTER TABLE crm_exports FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON crm_exports USING (supplier_id = app_supplier_id())
    WITH CHECK (supplier_id = app_supplier_id());
GRANT SELECT, INSERT, UPDATE, DELETE ON crm_exports TO wedsync_app;
