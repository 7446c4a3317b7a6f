"""The studio's phones that asked to be told when an import ends (Web Push subscriptions), under row-level security."""

from __future__ import annotations

import psycopg

from core.push import PushSubscription

# Another studio's row for this endpoint goes first (migrations/0031): the phone is now this studio's.
RELEASE = "SELECT release_push_endpoint(%(endpoint)s)"
SAVE = """
INSERT INTO push_subscriptions (supplier_id, endpoint, p256dh, auth, device_label)
VALUES (app_supplier_id(), %(endpoint)s, %(p256dh)s, %(auth)s, %(label)s)
ON CONFLICT (endpoint) DO UPDATE
SET p256dh = EXCLUDED.p256dh, auth = EXCLUDED.auth, device_label = EXCLUDED.device_label, failure_count = 0
"""
DELETE = "DELETE FROM push_subscriptions WHERE endpoint = %(endpoint)s"
# Every phone of a studio gets each notice, one POST after another, from one worker thread: a bound on the phones
# bounds that work (and what a signed-in script could make our workers send). The newest phones are kept.
MAX_PHONES = 30
KEEP_NEWEST = """
DELETE FROM push_subscriptions WHERE id IN (
    SELECT id FROM push_subscriptions ORDER BY created_at DESC, id DESC OFFSET %(keep)s
)
"""


async def save(conn: psycopg.AsyncConnection, sub: PushSubscription, label: str) -> None:
    params = {"endpoint": sub.endpoint, "p256dh": sub.keys.p256dh, "auth": sub.keys.auth, "label": label}
    await conn.execute(RELEASE, params)
    await conn.execute(SAVE, params)
    await conn.execute(KEEP_NEWEST, {"keep": MAX_PHONES})


async def delete(conn: psycopg.AsyncConnection, endpoint: str) -> bool:
    """Forget this studio's subscription at ``endpoint``; False when it has none there (another studio's is not
    visible, so not touched)."""
    cur = await conn.execute(DELETE, {"endpoint": endpoint})
    return cur.rowcount > 0
