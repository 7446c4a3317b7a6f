-- Indexes for every page query at 100,000+ clients (checked by tests/test_query_plans.py with EXPLAIN),
-- query statistics for the operator page, and the operator flag. Additive only.

-- Search under row-level security. The app runs as wedsync_app, so PostgreSQL evaluates the RLS policy
-- before any user condition that is not LEAKPROOF, and it will not use such a condition as an index
-- condition: `search_text LIKE '%…%'` therefore could not use the trigram index and every search read the
-- whole table (61 ms at 100k clients, against 3 ms with the index). textlike cannot raise an error that
-- depends on a row's data when the pattern is a constant (the only way the app calls it), and nobody but
-- the app writes SQL here, so we mark it LEAKPROOF. Only a superuser may do that: on a managed server
-- where the migrating user is not one, this is skipped with a notice and search stays correct but slower
-- (a superuser can run the ALTER later). pg_dump and pg_upgrade do not carry this flag over; the
-- query-plan test catches its absence on any database built from these migrations.
DO $$
BEGIN
    ALTER FUNCTION pg_catalog.textlike(text, text) LEAKPROOF;
EXCEPTION WHEN insufficient_privilege THEN
    RAISE NOTICE 'textlike is not LEAKPROOF here (needs a superuser): client search will not use its index';
END
$$;

-- The job list: running and queued first, then newest. This matches its ORDER BY exactly, so the first
-- 50 rows are read straight from the index instead of sorting every job the supplier ever ran.
CREATE INDEX IF NOT EXISTS sync_jobs_list_idx
    ON sync_jobs (supplier_id, (status IN ('running', 'queued')) DESC, created_at DESC, id DESC)
    WHERE status <> 'draft';

-- The dashboard's three counts read only these columns: an index-only scan instead of the whole table
-- (37 ms instead of 70 ms at 100k clients; cached above this, but a miss must not be a table scan).
CREATE INDEX IF NOT EXISTS clients_counts_idx ON clients (supplier_id, status, wedding_date);

-- Operators see the operator page (/operator); everyone else gets a 404 there. 0001 already has the
-- column on new databases; this keeps older ones in step.
ALTER TABLE suppliers ADD COLUMN IF NOT EXISTS is_operator boolean NOT NULL DEFAULT false;

-- Slowest queries for the operator page. The extension needs shared_preload_libraries=pg_stat_statements
-- (the embedded server sets it); where it is not available, or we may not create it, the page says so.
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'pg_stat_statements') THEN
        CREATE EXTENSION IF NOT EXISTS pg_stat_statements;
    END IF;
EXCEPTION WHEN others THEN
    RAISE NOTICE 'pg_stat_statements not created: %', SQLERRM;
END
$$;
