"""Sync jobs as the web pages read them."""

from __future__ import annotations

import psycopg
from psycopg.rows import class_row

from webapp.models import SyncJob

_COLUMNS = """
id, kind, source, status, total, processed, created_count, updated_count, unchanged_count,
failed_count, message, created_at, finished_at
"""
RECENT_JOBS = (
    "SELECT " + _COLUMNS + " FROM sync_jobs WHERE supplier_id = %(sid)s "
    "ORDER BY created_at DESC, id DESC LIMIT %(limit)s"
)


async def recent_jobs(conn: psycopg.AsyncConnection, supplier_id: int, limit: int = 5) -> list[SyncJob]:
    async with conn.cursor(row_factory=class_row(SyncJob)) as cur:
        await cur.execute(RECENT_JOBS, {"sid": supplier_id, "limit": limit})
        return await cur.fetchall()
