"""Clients: list (keyset pages), search, upcoming weddings, detail, status change, manual leads.

Every function runs inside a supplier-scoped transaction (``webapp.db.pool.tenant``); the explicit
``supplier_id`` predicates are there for the indexes, RLS is what guarantees isolation.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

import msgspec
import psycopg
from psycopg import sql
from psycopg.rows import class_row

from webapp.models import Client, ClientListRow, ClientStatus, DashboardCounts
from webapp.queries.keyset import decode_cursor, encode_cursor

PAGE_SIZE = 50

_DETAIL_COLUMNS = """
id, source, external_id, partner1_first, partner1_last, partner1_email, partner1_phone,
partner2_first, partner2_last, partner2_email, partner2_phone, wedding_date, venue, status,
lead_source, inquiry_date, booking_date, version, created_at, updated_at
"""
_LIST_COLUMNS = """
id, sort_name, partner1_first, partner1_last, partner2_first, partner2_last, partner1_email,
wedding_date, venue, status
"""

# Fragments composed by list_clients; each ordering has its own index (see migrations/0001).
_LIST_BASE = sql.SQL("SELECT " + _LIST_COLUMNS + " FROM clients WHERE supplier_id = %(sid)s")
_SEARCH = sql.SQL(" AND search_text LIKE %(pattern)s")
_UPCOMING = sql.SQL(" AND wedding_date BETWEEN %(today)s AND %(until)s")
_AFTER_NAME = sql.SQL(" AND (sort_name, id) > (%(after_key)s, %(after_id)s)")
_AFTER_DATE = sql.SQL(" AND (wedding_date, id) > (%(after_key)s::date, %(after_id)s)")
_ORDER_NAME = sql.SQL(" ORDER BY sort_name, id LIMIT %(limit)s")
_ORDER_DATE = sql.SQL(" ORDER BY wedding_date, id LIMIT %(limit)s")
# Searching a large book, the planner usually walks the name index and meets a page of matches early (~10 ms at
# 1,000,000 clients). For a name that is rare or sorts late that walk reads most of the book (seconds). So the
# walk gets a short budget; past it, the search reads every match through the trigram index and sorts them
# (MATERIALIZED keeps ORDER BY ... LIMIT out of the match: cost follows the matches, not the book).
_MATCHES_FIRST = sql.SQL("WITH matches AS MATERIALIZED ({}) SELECT * FROM matches")
# The walk itself reads only the name index, which includes search_text (migrations/0007): the page's ids come from
# an index-only scan that tests the pattern on index entries, then only the rows shown are read from the table.
_PAGE_IDS_BY_NAME = sql.SQL("SELECT id, sort_name FROM clients WHERE supplier_id = %(sid)s")
_WALK_BY_NAME = sql.SQL(
    "WITH page AS MATERIALIZED ({} ORDER BY sort_name, id LIMIT %(limit)s) SELECT "
    + ", ".join("c." + column.strip() for column in _LIST_COLUMNS.split(","))
    + " FROM page JOIN clients c ON c.id = page.id ORDER BY page.sort_name, page.id"
)
TRIGRAM_MIN_CHARS = 3
# Index-only, a walk of the whole 1,000,000-client book takes ~400 ms, a late first name ~90 ms: a budget this size
# rarely cancels a walk that was about to finish (the fallback then costs both). Rare terms rarely walk at all: the
# planner takes the trigram index for them itself. (150 ms when the walk read the table, one row at a time.)
SEARCH_WALK_BUDGET_MS = 400

GET_CLIENT = "SELECT " + _DETAIL_COLUMNS + " FROM clients WHERE id = %s"
UPDATE_STATUS = (
    "UPDATE clients SET status = %(status)s, version = version + 1, updated_at = now() "
    "WHERE id = %(id)s AND version = %(version)s RETURNING " + _DETAIL_COLUMNS
)
INSERT_MANUAL_CLIENT = """
INSERT INTO clients (supplier_id, source, external_id, partner1_first, partner1_last, partner1_email,
                     partner1_phone, partner2_first, partner2_last, wedding_date, venue, status, lead_source)
VALUES (app_supplier_id(), 'manual', %(external_id)s, %(partner1_first)s, %(partner1_last)s, %(partner1_email)s,
        %(partner1_phone)s, %(partner2_first)s, %(partner2_last)s, %(wedding_date)s, %(venue)s, 'lead',
        %(lead_source)s)
RETURNING id
"""
DASHBOARD_COUNTS = """
SELECT count(*) AS clients,
       count(*) FILTER (WHERE wedding_date BETWEEN %(today)s AND %(until)s) AS upcoming,
       count(*) FILTER (WHERE status = 'lead') AS leads
FROM clients WHERE supplier_id = %(sid)s
"""


class Cursor(msgspec.Struct, array_like=True, frozen=True):
    """Keyset position: the sort key and id of the last row shown."""

    key: str
    id: int

    def encode(self) -> str:
        return encode_cursor(self)

    @classmethod
    def decode(cls, token: str | None) -> Cursor | None:
        return decode_cursor(token, cls)


class ClientPage(msgspec.Struct, frozen=True):
    rows: list[ClientListRow]
    next_cursor: str | None


def search_pattern(query: str, digits: str | None) -> str:
    """LIKE pattern for the trigram index; a phone-looking query is matched on its digits."""
    needle = digits if digits else query.strip().lower()
    escaped = needle.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


async def list_clients(
    conn: psycopg.AsyncConnection,
    supplier_id: int,
    *,
    pattern: str | None = None,
    upcoming_days: int | None = None,
    after: Cursor | None = None,
    today: dt.date | None = None,
    limit: int = PAGE_SIZE,
) -> ClientPage:
    today = today or dt.date.today()
    order: Literal["name", "date"] = "date" if upcoming_days is not None else "name"
    parts = [_LIST_BASE]
    params: dict[str, object] = {"sid": supplier_id, "limit": limit + 1}
    if pattern is not None:
        parts.append(_SEARCH)
        params["pattern"] = pattern
    if upcoming_days is not None:
        parts.append(_UPCOMING)
        params.update(today=today, until=today + dt.timedelta(days=upcoming_days))
    if after is not None:
        parts.append(_AFTER_DATE if order == "date" else _AFTER_NAME)
        params.update(after_key=after.key, after_id=after.id)
    filtered = sql.Composed(parts)
    ordering = _ORDER_DATE if order == "date" else _ORDER_NAME
    if pattern is not None and len(pattern.replace("\\", "").strip("%")) >= TRIGRAM_MIN_CHARS:
        walk = sql.Composed([filtered, ordering])
        if order == "name":
            walk = _WALK_BY_NAME.format(sql.Composed([_PAGE_IDS_BY_NAME, *parts[1:]]))
        matches_first = sql.Composed([_MATCHES_FIRST.format(filtered), ordering])
        rows = await _search_with_fallback(conn, walk, matches_first, params)
    else:
        rows = await _fetch_rows(conn, sql.Composed([filtered, ordering]), params)
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        last = rows[-1]
        key = last.wedding_date.isoformat() if order == "date" and last.wedding_date else last.sort_name
        next_cursor = Cursor(key, last.id).encode()
    return ClientPage(rows, next_cursor)


async def _fetch_rows(
    conn: psycopg.AsyncConnection, query: sql.Composed, params: dict[str, object]
) -> list[ClientListRow]:
    async with conn.cursor(row_factory=class_row(ClientListRow)) as cur:
        await cur.execute(query, params)
        return await cur.fetchall()


async def _search_with_fallback(
    conn: psycopg.AsyncConnection, walk: sql.Composed, matches_first: sql.Composed, params: dict[str, object]
) -> list[ClientListRow]:
    """The walk (the planner's plan) within ``SEARCH_WALK_BUDGET_MS``, else matches first. The walk runs in a
    savepoint that is always rolled back (it only reads), which also undoes its short timeout for the rest of the
    transaction."""
    try:
        async with conn.transaction(force_rollback=True):
            await conn.execute(_SET_LOCAL_TIMEOUT, [str(SEARCH_WALK_BUDGET_MS)])
            return await _fetch_rows(conn, walk, params)
    except psycopg.errors.QueryCanceled:
        return await _fetch_rows(conn, matches_first, params)


_SET_LOCAL_TIMEOUT = "SELECT set_config('statement_timeout', %s, true)"


async def get_client(conn: psycopg.AsyncConnection, client_id: int) -> Client | None:
    async with conn.cursor(row_factory=class_row(Client)) as cur:
        await cur.execute(GET_CLIENT, [client_id])
        return await cur.fetchone()


async def update_status(
    conn: psycopg.AsyncConnection, client_id: int, *, status: ClientStatus, version: int
) -> Client | None:
    """The updated client, or None when ``version`` is stale (or the client is not visible)."""
    async with conn.cursor(row_factory=class_row(Client)) as cur:
        await cur.execute(UPDATE_STATUS, {"id": client_id, "status": status, "version": version})
        return await cur.fetchone()


async def dashboard_counts(
    conn: psycopg.AsyncConnection, supplier_id: int, *, days: int, today: dt.date | None = None
) -> DashboardCounts:
    today = today or dt.date.today()
    async with conn.cursor(row_factory=class_row(DashboardCounts)) as cur:
        await cur.execute(
            DASHBOARD_COUNTS, {"sid": supplier_id, "today": today, "until": today + dt.timedelta(days=days)}
        )
        row = await cur.fetchone()
    assert row is not None
    return row
