"""Operators: who may see the operator page, and the slowest statements from ``pg_stat_statements``."""

from __future__ import annotations

import msgspec
import psycopg
from psycopg.rows import class_row

IS_OPERATOR = "SELECT is_operator FROM suppliers WHERE id = %(id)s"
GRANT_OPERATOR = "UPDATE suppliers SET is_operator = %(on)s WHERE lower(email) = lower(%(email)s) RETURNING id"
# The app's own statements (those run as wedsync_app, whose text that role may read without pg_read_all_stats;
# migrations and admin sessions are left out), in this database, slowest on average first. EXPLAINs are left
# out: they are tests and tools, not the app.
SLOWEST_QUERIES = """
SELECT left(regexp_replace(query, '\\s+', ' ', 'g'), 400) AS query, calls::bigint AS calls,
       round(mean_exec_time::numeric, 2)::float8 AS mean_ms, round(max_exec_time::numeric, 2)::float8 AS max_ms,
       round(total_exec_time::numeric, 1)::float8 AS total_ms
FROM pg_stat_statements
WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
  AND userid = (SELECT oid FROM pg_roles WHERE rolname = current_user)
  AND query NOT ILIKE 'explain%%' AND calls > 0
ORDER BY mean_exec_time DESC
LIMIT %(limit)s
"""


class SlowQuery(msgspec.Struct, frozen=True):
    query: str
    calls: int
    mean_ms: float
    max_ms: float
    total_ms: float


async def is_operator(conn: psycopg.AsyncConnection, supplier_id: int) -> bool:
    cur = await conn.execute(IS_OPERATOR, {"id": supplier_id})
    row = await cur.fetchone()
    return bool(row and row[0])


def grant_operator(conn: psycopg.Connection, email: str, *, on: bool = True) -> bool:
    """Make the supplier with this sign-in email an operator (or not); False when there is no such supplier."""
    return conn.execute(GRANT_OPERATOR, {"email": email, "on": on}).fetchone() is not None


async def slowest_queries(conn: psycopg.AsyncConnection, limit: int = 10) -> list[SlowQuery] | None:
    """The slowest statements, or None when pg_stat_statements is not installed or not preloaded on this server."""
    try:
        async with conn.transaction(), conn.cursor(row_factory=class_row(SlowQuery)) as cur:  # a savepoint
            await cur.execute(SLOWEST_QUERIES, {"limit": limit})
            return await cur.fetchall()
    except (psycopg.errors.UndefinedTable, psycopg.errors.ObjectNotInPrerequisiteState):
        return None
