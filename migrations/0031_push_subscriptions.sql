-- The phones (browsers) a studio asked to be told when an import ends: a Web Push subscription each, as the browser's
-- PushSubscription.toJSON() gives it. The endpoint is the push service's address for that one browser (a secret
-- capability URL), so it is unique across studios: a phone belongs to the studio that signed in on it last.
CREATE TABLE push_subscriptions (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    supplier_id     bigint NOT NULL REFERENCES suppliers (id) ON DELETE CASCADE,
    endpoint        text NOT NULL UNIQUE CHECK (length(endpoint) <= 2048),
    p256dh          text NOT NULL CHECK (length(p256dh) <= 200),
    auth            text NOT NULL CHECK (length(auth) <= 100),
    device_label    text NOT NULL DEFAULT '' CHECK (length(device_label) <= 80),
    created_at      timestamptz NOT NULL DEFAULT now(),
    last_success_at timestamptz,
    failure_count   integer NOT NULL DEFAULT 0
);
CREATE INDEX push_subscriptions_supplier_idx ON push_subscriptions (supplier_id);
ALTER TABLE push_subscriptions ENABLE ROW LEVEL SECURITY;
ALTER TABLE push_subscriptions FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON push_subscriptions USING (supplier_id = app_supplier_id())
    WITH CHECK (supplier_id = app_supplier_id());
GRANT SELECT, INSERT, UPDATE, DELETE ON push_subscriptions TO wedsync_app;

-- A phone that was subscribed for another studio and is now subscribed for this one: the other studio's row goes, so
-- its imports are no longer announced on a phone someone else now uses. Only the browser holding the subscription
-- knows its endpoint (a long random URL from the push service), so presenting it proves the phone is in hand.
-- SECURITY DEFINER because that row is invisible under row-level security; it returns nothing about it.
CREATE OR REPLACE FUNCTION release_push_endpoint(push_endpoint text) RETURNS void
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
    DELETE FROM public.push_subscriptions
    WHERE endpoint = push_endpoint AND supplier_id <> public.app_supplier_id()  -- no studio in scope: nothing
$$;
REVOKE ALL ON FUNCTION release_push_endpoint(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION release_push_endpoint(text) TO wedsync_app;
