-- Inbound webhooks (HoneyBook through a Zapier zap): the URL carries a secret token. Only its SHA-256 is
-- stored. A webhook arrives before anyone is signed in, so this lookup table has no tenant policy (like
-- suppliers); it maps a token to the supplier whose transaction then handles the payload under RLS.
CREATE TABLE webhook_tokens (
    token_sha256   text PRIMARY KEY,
    supplier_id    bigint NOT NULL REFERENCES suppliers (id) ON DELETE CASCADE,
    integration_id bigint NOT NULL REFERENCES crm_integrations (id) ON DELETE CASCADE,
    created_at     timestamptz NOT NULL DEFAULT now()
);
GRANT SELECT, INSERT, DELETE ON webhook_tokens TO wedsync_app;
