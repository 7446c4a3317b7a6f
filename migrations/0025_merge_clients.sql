-- Merging two clients keeps one (the survivor) and deletes the other; the other's source key must keep leading to
-- the survivor, so that a later import from either source updates it and never brings the other back. A client has
-- one key of its own (clients_source_key); the keys it took over in merges are aliases here. The import resolves each
-- incoming key through this table before its ON CONFLICT (jobs/upsert.py), and the target is the survivor's own key
-- (not its id), so the import rewrites the row's key without a second look-up in clients.
--
-- The target is a foreign key to clients_source_key: deleting the survivor (a purge after a soft delete, an undone
-- import) takes its aliases with it; merging the survivor into another client later moves them on (an UPDATE).
CREATE TABLE client_source_aliases (
    supplier_id        bigint NOT NULL REFERENCES suppliers (id) ON DELETE CASCADE,
    source             text NOT NULL,
    external_id        text NOT NULL,
    target_source      text NOT NULL,
    target_external_id text NOT NULL,
    merged_at          timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (supplier_id, source, external_id),
    FOREIGN KEY (supplier_id, target_source, target_external_id)
        REFERENCES clients (supplier_id, source, external_id) ON DELETE CASCADE,
    CHECK ((source, external_id) <> (target_source, target_external_id))
);
CREATE INDEX client_source_aliases_target_idx ON client_source_aliases (supplier_id, target_source, target_external_id);
ALTER TABLE client_source_aliases ENABLE ROW LEVEL SECURITY;
ALTER TABLE client_source_aliases FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON client_source_aliases USING (supplier_id = app_supplier_id())
    WITH CHECK (supplier_id = app_supplier_id());
GRANT SELECT, INSERT, UPDATE, DELETE ON client_source_aliases TO wedsync_app;
