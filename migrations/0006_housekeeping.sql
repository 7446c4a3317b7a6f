-- Housekeeping the app role cannot do through row-level security: idempotency keys older than the retention
-- (never less than 7 days, the promise replays rely on) are deleted across all suppliers. SECURITY DEFINER runs
-- as the migrating owner; the function takes no identifiers and touches one table, so it grants nothing else.
CREATE OR REPLACE FUNCTION purge_expired_idempotency_keys(keep_days integer) RETURNS bigint
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
    WITH gone AS (
        DELETE FROM public.idempotency_keys
        WHERE created_at < now() - make_interval(days => greatest(keep_days, 7))
        RETURNING 1
    )
    SELECT count(*) FROM gone
$$;
REVOKE ALL ON FUNCTION purge_expired_idempotency_keys(integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION purge_expired_idempotency_keys(integer) TO wedsync_app;
