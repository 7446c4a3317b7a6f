-- A failed or stopped file import keeps its upload so "Try again" can resume it; after UPLOAD_KEEP_DAYS the upload
-- goes (the hourly housekeeping round, jobs/housekeeping.py), across all suppliers, as idempotency keys do (0006).
-- Only uploads of finished jobs: a queued or running job, or a draft being previewed, still needs its file.
CREATE OR REPLACE FUNCTION purge_old_uploads(keep_days integer) RETURNS bigint
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
    WITH gone AS (
        DELETE FROM public.import_upload_chunks c
        USING public.sync_jobs j
        WHERE c.job_id = j.id
          AND j.status IN ('succeeded', 'partially_succeeded', 'failed', 'cancelled')
          AND j.finished_at < now() - make_interval(days => greatest(keep_days, 1))
        RETURNING 1
    )
    SELECT count(*) FROM gone
$$;
REVOKE ALL ON FUNCTION purge_old_uploads(integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION purge_old_uploads(integer) TO wedsync_app;
