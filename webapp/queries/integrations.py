"""CRM integrations. The encrypted secret column is never selected here: only jobs decrypt it."""

from __future__ import annotations

import datetime as dt

import msgspec
import psycopg
from psycopg.rows import class_row


class IntegrationSummary(msgspec.Struct, frozen=True):
    id: int
    provider: str
    name: str
    base_url: str | None
    has_secret: bool
    created_at: dt.datetime


LIST_INTEGRATIONS = """
SELECT id, provider, name, base_url, secret_encrypted IS NOT NULL AS has_secret, created_at
FROM crm_integrations WHERE supplier_id = %(sid)s ORDER BY id
"""
INSERT_INTEGRATION = """
INSERT INTO crm_integrations (supplier_id, provider, name, base_url, secret_encrypted)
VALUES (app_supplier_id(), %(provider)s, %(name)s, %(base_url)s, %(secret)s)
RETURNING id
"""


async def list_integrations(conn: psycopg.AsyncConnection, supplier_id: int) -> list[IntegrationSummary]:
    async with conn.cursor(row_factory=class_row(IntegrationSummary)) as cur:
        await cur.execute(LIST_INTEGRATIONS, {"sid": supplier_id})
        return await cur.fetchall()
