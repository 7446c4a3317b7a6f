-- A job's story: every state change, wait and committed batch, for the timeline on the job page.
-- Written in the same transaction as the batch it describes, so the timeline never runs ahead of the data.
CREATE TABLE sync_job_events (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    supplier_id bigint NOT NULL REFERENCES suppliers (id) ON DELETE CASCADE,
    job_id      bigint NOT NULL REFERENCES sync_jobs (id) ON DELETE CASCADE,
    at          timestamptz NOT NULL DEFAULT now(),
    status      text NOT NULL,
    processed   integer NOT NULL DEFAULT 0,
    message     text NOT NULL
);
CREATE INDEX sync_job_events_job_idx ON sync_job_events (supplier_id, job_id, id);
CREATE INDEX sync_jobs_status_idx ON sync_jobs (supplier_id, status, created_at DESC, id DESC);
ALTER TABLE sync_job_events ENABLE ROW LEVEL SECURITY;
ALTER TABLE sync_job_events FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON sync_job_events USING (supplier_id = app_supplier_id())
    WITH CHECK (supplier_id = app_supplier_id());
GRANT SELECT, INSERT, UPDATE, DELETE ON sync_job_events TO wedsync_app;
GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO wedsync_app;
