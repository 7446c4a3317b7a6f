-- The client book a phone keeps offline (sw/book.js) is refreshed with what changed since its cursor
-- (GET /book/changes, webapp/queries/book.py). clients.updated_at cannot be that cursor: deleting, restoring, undoing
-- an import and the conflict screen do not bump it, a merge and an undo delete rows outright, and a timestamp taken at
-- the start of a transaction that commits late sorts before rows already handed out.
--
-- So every client row carries the id of the transaction that last changed what the book holds (book_xid), set in one
-- place (the trigger below, whatever the write path: an edit, a status, an import's upsert, a merge, an undo, a
-- delete or a restore), and every row deleted outright leaves a tombstone. A reader's cursor is the oldest
-- transaction still running when it read (pg_snapshot_xmin): everything older was committed or rolled back then, so
-- the next read from that cursor misses nothing; rows changed by transactions at or after it may be sent twice, which
-- the phone's upsert absorbs.
ALTER TABLE clients ADD COLUMN book_xid xid8 NOT NULL DEFAULT pg_current_xact_id();
CREATE INDEX clients_book_idx ON clients (supplier_id, book_xid, id);

-- Only the fields the book holds (sw/book.js, webapp/queries/book.py BOOK_COLUMNS): a change to anything else (the
-- app's edit pins, lead source) sends nothing to the phones. Add a field here when the book gains one.
CREATE FUNCTION clients_book_touch() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.book_xid := pg_current_xact_id();
    RETURN NEW;
END
$$;
CREATE TRIGGER clients_book_touch BEFORE UPDATE ON clients FOR EACH ROW
    WHEN ((OLD.partner1_first, OLD.partner1_last, OLD.partner2_first, OLD.partner2_last, OLD.partner1_email,
           OLD.partner2_email, OLD.partner1_phone, OLD.partner2_phone, OLD.wedding_date, OLD.venue, OLD.status,
           OLD.deleted_at)
          IS DISTINCT FROM
          (NEW.partner1_first, NEW.partner1_last, NEW.partner2_first, NEW.partner2_last, NEW.partner1_email,
           NEW.partner2_email, NEW.partner1_phone, NEW.partner2_phone, NEW.wedding_date, NEW.venue, NEW.status,
           NEW.deleted_at))
    EXECUTE FUNCTION clients_book_touch();

-- Clients deleted outright (merged away, an undone import's new clients, a purge after the 30 days of a soft
-- delete). No foreign key to suppliers: a studio's own deletion cascades here too, and tombstones age out anyway.
CREATE TABLE book_deletions (
    supplier_id bigint NOT NULL,
    client_id   bigint NOT NULL,
    book_xid    xid8 NOT NULL DEFAULT pg_current_xact_id(),
    deleted_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX book_deletions_idx ON book_deletions (supplier_id, book_xid);
CREATE INDEX book_deletions_age_idx ON book_deletions (deleted_at);
-- Phones read their studio's tombstones under row-level security; only the trigger (as the table's owner, which RLS
-- does not bind without FORCE) and the purge write them, whoever deletes the client (housekeeping has no studio).
ALTER TABLE book_deletions ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON book_deletions USING (supplier_id = app_supplier_id());
GRANT SELECT ON book_deletions TO wedsync_app;

CREATE FUNCTION clients_book_deleted() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
BEGIN
    INSERT INTO public.book_deletions (supplier_id, client_id) SELECT supplier_id, id FROM gone;
    RETURN NULL;
END
$$;
CREATE TRIGGER clients_book_deleted AFTER DELETE ON clients REFERENCING OLD TABLE AS gone
    FOR EACH STATEMENT EXECUTE FUNCTION clients_book_deleted();

-- The newest tombstone purged so far: a cursor at or before it may have missed a deletion, so its phone gets the
-- whole book again (full: true) instead of keeping a client that is gone.
CREATE TABLE book_horizon (
    one          boolean PRIMARY KEY DEFAULT true CHECK (one),
    purged_below xid8 NOT NULL
);
INSERT INTO book_horizon (purged_below) VALUES ('0');
GRANT SELECT ON book_horizon TO wedsync_app;

-- Housekeeping: tombstones older than keep_days (at least 30) go, and the horizon moves past them. As the other purges
-- (0006, 0019), SECURITY DEFINER with no identifiers taken, across all studios.
CREATE FUNCTION purge_book_deletions(keep_days integer) RETURNS bigint
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
    WITH gone AS (
        DELETE FROM public.book_deletions WHERE deleted_at < now() - make_interval(days => greatest(keep_days, 30))
        RETURNING book_xid
    ), moved AS (
        UPDATE public.book_horizon SET purged_below = greatest(purged_below, (SELECT max(book_xid) FROM gone))
        WHERE EXISTS (SELECT FROM gone)
    )
    SELECT count(*) FROM gone
$$;
REVOKE ALL ON FUNCTION purge_book_deletions(integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION purge_book_deletions(integer) TO wedsync_app;
