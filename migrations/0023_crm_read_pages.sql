-- A CRM import reads every contact, job link and event before its first couple can be written (~5,000 pages for a
-- 100,000-client Tave studio). Each page read is kept here (only what the import uses, as msgpack), so an attempt
-- that failed or was stopped part-way is resumed after the last page kept instead of reading from page 1 again.
-- Deleted when the job succeeds; a failed or stopped job's pages go with its upload (purge_old_uploads).
CREATE TABLE sync_job_pages (
    supplier_id bigint NOT NULL REFERENCES suppliers (id) ON DELETE CASCADE,
    job_id      bigint NOT NULL REFERENCES sync_jobs (id) ON DELETE CASCADE,
    resource    text NOT NULL,
    page        integer NOT NULL,
    payload     bytea NOT NULL,
    PRIMARY KEY (job_id, resource, page)
);
ALTER TABLE sync_job_pages ENABLE ROW LEVEL SECURITY;
ALTER TABLE sync_job_pages FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON sync_job_pages USING (supplier_id = app_supplier_id())
    WITH CHECK (supplier_id = app_supplier_id());
GRANT SELECT, INSERT, UPDATE, DELETE ON sync_job_pages TO wedsync_app;

CREATE OR REPLACE FUNCTION purge_old_uploads(keep_days integer) RETURNS bigint
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
    WITH old AS (
        SELECT id FROM public.sync_jobs
        WHERE status IN ('succeeded', 'partially_succeeded', 'failed', 'cancelled')
          AND finished_at < now() - make_interval(days => greatest(keep_days, 1))
    ), chunks AS (
        DELETE FROM public.import_upload_chunks c USING old WHERE c.job_id = old.id RETURNING 1
    ), pages AS (
        DELETE FROM public.sync_job_pages p USING old WHERE p.job_id = old.id RETURNING 1
    )
    SELECT (SELECT count(*) FROM chunks) + (SELECT count(*) FROM pages)
$$;
