-- Undo an import. A client remembers the job that created it (no index: undo is rare, and an index would cost
-- every import's inserts); a job remembers, for each client it updated, the values it overwrote and the version it
-- left, so an undo restores exactly those it still holds and leaves alone any client changed since.
ALTER TABLE clients ADD COLUMN created_job_id bigint;
ALTER TABLE sync_jobs ADD COLUMN undone_at timestamptz;

CREATE TABLE sync_job_overwrites (
    supplier_id   bigint NOT NULL REFERENCES suppliers (id) ON DELETE CASCADE,
    job_id        bigint NOT NULL REFERENCES sync_jobs (id) ON DELETE CASCADE,
    client_id     bigint NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    before        jsonb NOT NULL,
    version_after integer NOT NULL,
    PRIMARY KEY (job_id, client_id)
);
ALTER TABLE sync_job_overwrites ENABLE ROW LEVEL SECURITY;
ALTER TABLE sync_job_overwrites FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON sync_job_overwrites USING (supplier_id = app_supplier_id())
    WITH CHECK (supplier_id = app_supplier_id());
GRANT SELECT, INSERT, UPDATE, DELETE ON sync_job_overwrites TO wedsync_app;

-- An import can be taken back for 30 days; after that what an undo needs is deleted across all studios by the
-- workers' hourly housekeeping (as purge_expired_idempotency_keys, migrations/0006).
CREATE OR REPLACE FUNCTION purge_expired_undo_records(keep_days integer) RETURNS bigint
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
    WITH gone AS (
        DELETE FROM public.sync_job_overwrites o USING public.sync_jobs j
        WHERE j.id = o.job_id AND j.finished_at < now() - make_interval(days => greatest(keep_days, 30))
        RETURNING 1
    )
    SELECT count(*) FROM gone
$$;
REVOKE ALL ON FUNCTION purge_expired_undo_records(integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION purge_expired_undo_records(integer) TO wedsync_app;
