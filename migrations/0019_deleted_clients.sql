-- Deleting a client is a soft delete: the row stays, hidden from every page, list, search, count and export, for
-- 30 days (an "Undo" right after, a restore until then), and housekeeping purges it after that (notes go with it:
-- ON DELETE CASCADE). The source key stays taken while it waits, so re-importing the file updates the hidden row
-- instead of bringing the client back as a new one.
ALTER TABLE clients ADD COLUMN deleted_at timestamptz;

-- The name-ordered list and search walk read clients_list_idx alone (index-only, testing the words on its entries),
-- and the dashboard counts read clients_counts_idx alone: both now hold only live clients, so neither has to visit
-- the table to learn whether a client was deleted. (clients_wedding_date_idx and clients_words_idx stay whole: the
-- import's duplicate check reads the first, and pages reading either visit the rows anyway.)
CREATE INDEX clients_live_list_idx ON clients (supplier_id, sort_name, id) INCLUDE (search_words)
    WHERE deleted_at IS NULL;
DROP INDEX clients_list_idx;
ALTER INDEX clients_live_list_idx RENAME TO clients_list_idx;
CREATE INDEX clients_live_counts_idx ON clients (supplier_id, status, wedding_date) WHERE deleted_at IS NULL;
DROP INDEX clients_counts_idx;
ALTER INDEX clients_live_counts_idx RENAME TO clients_counts_idx;

-- Housekeeping's purge finds the clients deleted more than 30 days ago without reading the others.
CREATE INDEX clients_deleted_idx ON clients (deleted_at) WHERE deleted_at IS NOT NULL;

-- Housekeeping purges clients deleted more than 30 days ago (never sooner, whatever it asks), across all studios,
-- which the app role cannot do through row-level security: as purge_expired_idempotency_keys (0006), a SECURITY
-- DEFINER function that takes no identifiers and touches one table (the clients' notes, duplicates and conflicts go
-- with them: ON DELETE CASCADE).
CREATE OR REPLACE FUNCTION purge_deleted_clients(keep_days integer) RETURNS bigint
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
    WITH gone AS (
        DELETE FROM public.clients
        WHERE deleted_at < now() - make_interval(days => greatest(keep_days, 30))
        RETURNING 1
    )
    SELECT count(*) FROM gone
$$;
REVOKE ALL ON FUNCTION purge_deleted_clients(integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION purge_deleted_clients(integer) TO wedsync_app;
