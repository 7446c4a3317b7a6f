"""Webhook tokens: looked up before any supplier is known, so this table has no tenant policy."""

from __future__ import annotations

import psycopg

FIND_TOKEN = "SELECT supplier_id, integration_id FROM webhook_tokens WHERE token_sha256 = %s"  # noqa: S105 - SQL
ADD_TOKEN = """
INSERT INTO webhook_tokens (token_sha256, supplier_id, integration_id) VALUES (%s, app_supplier_id(), %s)
"""  # noqa: S105 - SQL


async def find_token(conn: psycopg.AsyncConnection, token_sha256: str) -> tuple[int, int] | None:
    cur = await conn.execute(FIND_TOKEN, [token_sha256])
    row = await cur.fetchone()
    return (int(row[0]), int(row[1])) if row else None


async def add_token(conn: psycopg.AsyncConnection, token_sha256: str, integration_id: int) -> None:
    await conn.execute(ADD_TOKEN, [token_sha256, integration_id])
