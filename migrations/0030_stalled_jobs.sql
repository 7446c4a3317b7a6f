-- Running jobs whose row has not moved for a while (JOB_STALL_S): counted by /health/ready, and ended failed by the
-- housekeeping sweep once they have been still for much longer while their message is present. SECURITY DEFINER
-- because both look across suppliers; they return ids, kinds and a count, nothing of a client. Both read
-- sync_jobs_unfinished_idx (migrations/0008).
CREATE OR REPLACE FUNCTION running_jobs_idle_for(idle_seconds double precision)
RETURNS TABLE (job_id bigint, supplier_id bigint, kind text)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
    SELECT id, supplier_id, kind FROM public.sync_jobs
    WHERE status = 'running' AND updated_at < now() - make_interval(secs => idle_seconds)
    ORDER BY updated_at
    LIMIT 1000
$$;
REVOKE ALL ON FUNCTION running_jobs_idle_for(double precision) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION running_jobs_idle_for(double precision) TO wedsync_app;

CREATE OR REPLACE FUNCTION stalled_job_count(idle_seconds double precision)
RETURNS bigint
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
    SELECT count(*) FROM public.sync_jobs
    WHERE status = 'running' AND updated_at < now() - make_interval(secs => idle_seconds)
$$;
REVOKE ALL ON FUNCTION stalled_job_count(double precision) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION stalled_job_count(double precision) TO wedsync_app;
