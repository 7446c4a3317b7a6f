"""CRM integrations. The encrypted secret column is never selected here: only jobs decrypt it."""

from __future__ import annotations

import datetime as dt

import msgspec
import psycopg
from psycopg.rows import class_row
from psycopg.types.json import Jsonb

from core.sources import FILES_NAMES


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


class IntegrationSettings(msgspec.Struct, frozen=True):
    id: int
    provider: str
    name: str
    settings: dict[str, object]


FIND_FILE_INTEGRATION = """
SELECT id, provider, name, settings FROM crm_integrations
WHERE supplier_id = %(sid)s AND provider = %(provider)s AND base_url IS NULL AND secret_encrypted IS NULL
ORDER BY id LIMIT 1
"""
GET_INTEGRATION = "SELECT id, provider, name, settings FROM crm_integrations WHERE id = %(id)s"
SAVE_MAPPING = """
UPDATE crm_integrations
SET settings = jsonb_set(settings, ARRAY['mappings', %(signature)s], %(columns)s, true), updated_at = now()
WHERE id = %(id)s
"""
ENSURE_MAPPINGS_KEY = """
UPDATE crm_integrations SET settings = settings || '{"mappings": {}}'::jsonb
WHERE id = %(id)s AND NOT settings ? 'mappings'
"""
FILE_SOURCE_NAMES = FILES_NAMES


async def file_integration(conn: psycopg.AsyncConnection, supplier_id: int, provider: str) -> IntegrationSettings:
    """The integration that remembers column mappings for one kind of uploaded file (created on first use)."""
    async with conn.cursor(row_factory=class_row(IntegrationSettings)) as cur:
        await cur.execute(FIND_FILE_INTEGRATION, {"sid": supplier_id, "provider": provider})
        found = await cur.fetchone()
        if found is not None:
            return found
    await conn.execute(
        INSERT_INTEGRATION,
        {"provider": provider, "name": FILE_SOURCE_NAMES[provider], "base_url": None, "secret": None},
    )
    return await file_integration(conn, supplier_id, provider)


async def get_integration(conn: psycopg.AsyncConnection, integration_id: int) -> IntegrationSettings | None:
    async with conn.cursor(row_factory=class_row(IntegrationSettings)) as cur:
        await cur.execute(GET_INTEGRATION, {"id": integration_id})
        return await cur.fetchone()


async def save_mapping(
    conn: psycopg.AsyncConnection, integration_id: int, signature: str, columns: dict[str, str]
) -> None:
    await conn.execute(ENSURE_MAPPINGS_KEY, {"id": integration_id})
    await conn.execute(SAVE_MAPPING, {"id": integration_id, "signature": signature, "columns": Jsonb(columns)})


async def create_integration(
    conn: psycopg.AsyncConnection, *, provider: str, name: str, base_url: str | None, secret: bytes | None
) -> int:
    cur = await conn.execute(
        INSERT_INTEGRATION, {"provider": provider, "name": name, "base_url": base_url, "secret": secret}
    )
    row = await cur.fetchone()
    assert row is not None
    return int(row[0])


GET_SECRET = "SELECT provider, base_url, secret_encrypted FROM crm_integrations WHERE id = %(id)s"  # noqa: S105


async def get_secret(conn: psycopg.AsyncConnection, integration_id: int) -> tuple[str, str | None, bytes | None] | None:
    """The encrypted secret, for a connection test; callers decrypt it in memory and never store or log it."""
    cur = await conn.execute(GET_SECRET, {"id": integration_id})
    row = await cur.fetchone()
    if row is None:
        return None
    return str(row[0]), row[1], bytes(row[2]) if row[2] is not None else None
