"""Stored first responses for Idempotency-Key replays."""

from __future__ import annotations

import msgspec
import psycopg
from psycopg.rows import class_row
from psycopg.types.json import Jsonb

# A key whose first request died mid-flight (process killed) is taken over after this long.
ABANDONED_AFTER_S = 60

CLAIM_KEY = """
INSERT INTO idempotency_keys (supplier_id, key, request_hash)
VALUES (app_supplier_id(), %(key)s, %(hash)s)
ON CONFLICT (supplier_id, key) DO UPDATE
    SET request_hash = EXCLUDED.request_hash, created_at = now()
    WHERE idempotency_keys.state = 'in_progress'
      AND idempotency_keys.created_at < now() - make_interval(secs => %(abandoned)s)
RETURNING key
"""
GET_KEY = """
SELECT request_hash, state, response_status, response_headers, response_body
FROM idempotency_keys WHERE key = %(key)s
"""
FINISH_KEY = """
UPDATE idempotency_keys
SET state = 'done', response_status = %(status)s, response_headers = %(headers)s, response_body = %(body)s
WHERE key = %(key)s
"""
RELEASE_KEY = "DELETE FROM idempotency_keys WHERE key = %(key)s AND state = 'in_progress'"
PURGE_EXPIRED = "DELETE FROM idempotency_keys WHERE created_at < now() - make_interval(days => %(days)s)"


class StoredResponse(msgspec.Struct, frozen=True):
    request_hash: str
    state: str
    response_status: int | None
    response_headers: dict[str, str] | None
    response_body: bytes | None


async def claim(conn: psycopg.AsyncConnection, key: str, request_hash: str) -> bool:
    """True when this request owns the key (first use, or taking over an abandoned attempt)."""
    cur = await conn.execute(CLAIM_KEY, {"key": key, "hash": request_hash, "abandoned": ABANDONED_AFTER_S})
    return await cur.fetchone() is not None


async def get(conn: psycopg.AsyncConnection, key: str) -> StoredResponse | None:
    async with conn.cursor(row_factory=class_row(StoredResponse)) as cur:
        await cur.execute(GET_KEY, {"key": key})
        return await cur.fetchone()


async def finish(conn: psycopg.AsyncConnection, key: str, status: int, headers: dict[str, str], body: bytes) -> None:
    await conn.execute(
        FINISH_KEY,
        {"key": key, "status": status, "headers": Jsonb(headers), "body": body},
    )


async def release(conn: psycopg.AsyncConnection, key: str) -> None:
    await conn.execute(RELEASE_KEY, {"key": key})
