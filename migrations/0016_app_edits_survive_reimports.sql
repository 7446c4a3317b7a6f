-- Re-importing is a three-way merge. A field changed in WedSync after a client was imported remembers the value
-- its import gave it (``app_edits``: field -> that value). A later import keeps the app's value unless the file
-- changed that same field too; then the import keeps the app's value and lists the conflict with both values, and
-- the photographer picks. Nothing is stored for fields the app never changed, so imports write no more per row.
ALTER TABLE clients ADD COLUMN app_edits jsonb;

-- Status changes used to clear the import digest so that a re-import wrote the file's status back over the
-- photographer's: the digest now stays (an unchanged row is skipped, keeping the edit) and app_edits says why.
CREATE TABLE sync_job_conflicts (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    supplier_id bigint NOT NULL REFERENCES suppliers (id) ON DELETE CASCADE,
    job_id      bigint NOT NULL REFERENCES sync_jobs (id) ON DELETE CASCADE,
    client_id   bigint NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    field       text NOT NULL,
    app_value   text,
    file_value  text,
    resolved    text CHECK (resolved IN ('app', 'file')),
    UNIQUE (job_id, client_id, field)
);
CREATE INDEX sync_job_conflicts_job_idx ON sync_job_conflicts (supplier_id, job_id, id);
ALTER TABLE sync_job_conflicts ENABLE ROW LEVEL SECURITY;
ALTER TABLE sync_job_conflicts FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON sync_job_conflicts USING (supplier_id = app_supplier_id())
    WITH CHECK (supplier_id = app_supplier_id());
GRANT SELECT, INSERT, UPDATE, DELETE ON sync_job_conflicts TO wedsync_app;
GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO wedsync_app;
