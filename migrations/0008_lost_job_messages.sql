-- Jobs that should have a message in the queue: queued or running, untouched for a while. The housekeeping sweep
-- compares these with the messages Redis holds and sends again the ones with none (Redis restarted without its
-- append-only file, or a web process that died between committing a job and sending its message). SECURITY
-- DEFINER because the sweep works across suppliers; it returns ids and the job kind, nothing of a client.
CREATE INDEX sync_jobs_unfinished_idx ON sync_jobs (updated_at) WHERE status IN ('queued', 'running');

CREATE OR REPLACE FUNCTION unfinished_jobs_idle_for(idle_seconds integer)
RETURNS TABLE (job_id bigint, supplier_id bigint, kind text)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
    SELECT id, supplier_id, kind FROM public.sync_jobs
    WHERE status IN ('queued', 'running') AND updated_at < now() - make_interval(secs => greatest(idle_seconds, 60))
    ORDER BY updated_at
    LIMIT 1000
$$;
REVOKE ALL ON FUNCTION unfinished_jobs_idle_for(integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION unfinished_jobs_idle_for(integer) TO wedsync_app;
