"""Clients: list (keyset pages), search, upcoming weddings, detail, status change, manual leads.

Every function runs inside a supplier-scoped transaction (``core.db.pool.tenant``); the explicit
``supplier_id`` predicates are there for the indexes, RLS is what guarantees isolation.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Sequence
from typing import Any, Literal

import msgspec
import psycopg
from psycopg import sql
from psycopg.rows import RowMaker, class_row

from core.couple import COUPLE_COLUMNS, COUPLE_FIELDS, CoupleField
from webapp.models import Client, ClientListRow, ClientStatus, DashboardCounts
from webapp.queries.keyset import decode_cursor, encode_cursor

PAGE_SIZE = 50

_DETAIL_COLUMNS = """
id, source, external_id, partner1_first, partner1_last, partner1_email, partner1_phone,
partner2_first, partner2_last, partner2_email, partner2_phone, wedding_date, venue, status,
lead_source, inquiry_date, booking_date, version, created_at, updated_at
"""
# The list row Struct's own fields, so every query that reads list rows agrees with it on what a row holds.
_LIST_COLUMNS = ", ".join(field.name for field in msgspec.structs.fields(ClientListRow))

# Fragments composed by list_clients. Name order: clients_list_idx; date order: clients_wedding_date_idx (0013).
# Deleted clients (migrations/0019) are in no list: clients_list_idx and clients_counts_idx hold only live ones, and
# every query here says ``deleted_at IS NULL`` so PostgreSQL may use them.
_LIVE = " AND deleted_at IS NULL"
_LIST_BASE = sql.SQL("SELECT " + _LIST_COLUMNS + " FROM clients WHERE supplier_id = %(sid)s" + _LIVE)
# Every typed word is one of the client's words, or its start (search_words / search_query, migrations/0009, 0011).
# The query is a sub-SELECT, so PostgreSQL works it out once per statement: psycopg prepares a statement it has run
# five times, and in PostgreSQL's generic plan for it a bare search_query(...) call, whose argument is unknown when
# planned, ran again for every name tested (140 ms instead of 4 for 20,000 names).
_QUERY = "(SELECT search_query(%(search)s))"
_SEARCH = sql.SQL(" AND search_words @@ " + _QUERY)
_UPCOMING = sql.SQL(" AND wedding_date BETWEEN %(today)s AND %(until)s")
_AFTER_NAME = sql.SQL(" AND (sort_name, id) > (%(after_key)s, %(after_id)s)")
_AFTER_DATE = sql.SQL(" AND (wedding_date, id) > (%(after_key)s::date, %(after_id)s)")
_ORDER_NAME = sql.SQL(" ORDER BY sort_name, id LIMIT %(limit)s")
_ORDER_DATE = sql.SQL(" ORDER BY wedding_date, id LIMIT %(limit)s")
# Searching by name order. Three steps, cheapest first, each exact:
# 1. The next SEARCH_NEARBY_NAMES names of the book, read from the name index alone (it includes search_words,
#    migrations/0009; ~10 ms for 20,000 entries): a word shared by more than ~1 in 400 clients fills a page here,
#    usually within a few hundred entries. If they were the rest of the book (a studio of up to 20,000 clients),
#    they held every match.
# 2. Otherwise the word index, in a bitmap: if there are at most SEARCH_FEW_MATCHES matches, read them all and sort
#    (~1 ms for a phone number or a rare surname at 1,000,000 clients).
# 3. Otherwise (many matches, but not near: a first name whose clients sit together late in name order), walk the
#    name index within SEARCH_WALK_BUDGET_MS, then read every match and sort.
# PostgreSQL cannot choose between these by itself: it estimates any word it has no statistics for (a phone number,
# a rare surname) at 0.5% of the book, and walked the whole name index for one (200 ms at 1,000,000 clients).
_NEARBY = "FROM clients WHERE supplier_id = %(sid)s" + _LIVE + "{} ORDER BY sort_name, id LIMIT %(nearby)s"
_NEAR_IDS_BY_NAME = sql.SQL(
    "SELECT id, sort_name FROM (SELECT id, sort_name, search_words " + _NEARBY + ") AS nearby "
    "WHERE search_words @@ " + _QUERY
)
# Whether the nearby names were the rest of the book (a studio of up to SEARCH_NEARBY_NAMES clients: most): then
# what they held is every match, and the word index is not read. Its entries for a word are every studio's, so
# step 2 costs what the word costs across all studios, not in this one.
_BOOK_ENDS_NEARBY = sql.SQL("SELECT count(*) < %(nearby)s FROM (SELECT " + _NEARBY + ") AS book")
# Step 2 in one statement: at most SEARCH_FEW_MATCHES + 1 matches through the word index, the page of them in name
# order, and on each row how many there were (more than SEARCH_FEW_MATCHES: these are not all, go on to step 3).
_FEW_MATCHES = sql.SQL(
    "WITH matches AS MATERIALIZED ({} LIMIT %(few)s) SELECT *, (SELECT count(*) FROM matches) AS matched "
    "FROM matches ORDER BY sort_name, id LIMIT %(limit)s"
)
_BITMAP_ONLY = (
    "SELECT set_config('enable_seqscan', 'off', true), set_config('enable_indexscan', 'off', true), "
    "set_config('enable_indexonlyscan', 'off', true)"
)
SEARCH_NEARBY_NAMES = 20_000
SEARCH_FEW_MATCHES = 2_500
# Reading every match (MATERIALIZED keeps ORDER BY ... LIMIT out of the match: cost follows the matches, not the
# book).
_MATCHES_FIRST = sql.SQL("WITH matches AS MATERIALIZED ({}) SELECT * FROM matches")
# A walk reads only the name index: the page's ids come from an index-only scan that tests the words on index
# entries, then only the rows shown are read from the table.
_PAGE_IDS_BY_NAME = sql.SQL("SELECT id, sort_name FROM clients WHERE supplier_id = %(sid)s" + _LIVE)
_WALK_BY_NAME = sql.SQL(
    "WITH page AS MATERIALIZED ({} ORDER BY sort_name, id LIMIT %(limit)s) SELECT "
    + ", ".join("c." + field.name for field in msgspec.structs.fields(ClientListRow))
    + " FROM page JOIN clients c ON c.id = page.id ORDER BY page.sort_name, page.id"
)
# Index-only, a walk of the whole 1,000,000-client book takes ~400 ms, a late first name ~90 ms: a budget this size
# rarely cancels a walk that was about to finish (the fallback then costs both). Searches in date order (upcoming
# weddings) are the planner's plan within this budget, then matches first.
SEARCH_WALK_BUDGET_MS = 400

# What a cached list page reads again when some of its rows changed (webapp/cache/rows.py); the primary key
# serves ``id = ANY``.
ROWS_BY_IDS = "SELECT " + _LIST_COLUMNS + " FROM clients WHERE supplier_id = %(sid)s AND id = ANY(%(ids)s)" + _LIVE
GET_CLIENT = "SELECT " + _DETAIL_COLUMNS + " FROM clients WHERE id = %s" + _LIVE
# An imported client remembers the status its import gave it (the first time the app changes it): a later import
# keeps the photographer's status unless the file changed it too (jobs/upsert.py, migrations/0016).
UPDATE_STATUS = (
    "UPDATE clients SET status = %(status)s, version = version + 1, updated_at = now(), "
    "app_edits = CASE WHEN source = 'manual' OR app_edits ? 'status' THEN app_edits "
    "ELSE coalesce(app_edits, '{}') || jsonb_build_object('status', status) END "
    "WHERE id = %(id)s AND version = %(version)s" + _LIVE + " RETURNING " + _DETAIL_COLUMNS
)


def _app_edit(field: CoupleField) -> sql.Composed:
    """``{field: the value its import gave it}`` when this edit changes ``field`` for the first time, else ``{}``."""
    column, cast = sql.Identifier(field.name), sql.SQL("date" if field.kind == "date" else "text")
    return sql.SQL(
        "CASE WHEN app_edits ? {name} OR {column} IS NOT DISTINCT FROM {value}::{cast} THEN '{{}}'::jsonb "
        "ELSE jsonb_build_object({name}, {column}) END"
    ).format(name=sql.Literal(field.name), column=column, value=sql.Placeholder(field.name), cast=cast)


# An edit of the couple writes every field of core.couple. An imported client remembers, for each field the edit
# changes for the first time, the value its import gave it (as UPDATE_STATUS does): a later import keeps the
# photographer's value unless the file changed that field too (jobs/upsert.py, migrations/0016). A manual client
# has no import to remember.
UPDATE_CLIENT = sql.SQL(
    "UPDATE clients SET {assignments}, version = version + 1, updated_at = now(), "
    "app_edits = CASE WHEN source = 'manual' THEN app_edits "
    "ELSE nullif(coalesce(app_edits, '{{}}'::jsonb) || {edits}, '{{}}'::jsonb) END "
    "WHERE id = %(id)s AND version = %(version)s" + _LIVE + " RETURNING " + _DETAIL_COLUMNS
).format(
    assignments=sql.SQL(", ").join(
        sql.SQL("{} = {}").format(sql.Identifier(c), sql.Placeholder(c)) for c in COUPLE_COLUMNS
    ),
    edits=sql.SQL(" || ").join(_app_edit(f) for f in COUPLE_FIELDS),
)
# Deleting hides the client (migrations/0019); a restore within 30 days brings it back as it was.
DELETE_CLIENT = "UPDATE clients SET deleted_at = now() WHERE id = %s" + _LIVE + " RETURNING id"
RESTORE_CLIENT = "UPDATE clients SET deleted_at = NULL WHERE id = %(id)s AND deleted_at > now() - %(keep)s RETURNING id"
KEEP_DELETED = dt.timedelta(days=30)
# The clients a studio can still restore, newest deletion first (clients_deleted_idx holds only deleted ones).
DELETED_CLIENTS = (
    "SELECT " + _LIST_COLUMNS + ", deleted_at FROM clients "
    "WHERE supplier_id = %(sid)s AND deleted_at > now() - %(keep)s ORDER BY deleted_at DESC, id DESC LIMIT %(limit)s"
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
FROM clients WHERE supplier_id = %(sid)s AND deleted_at IS NULL
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


async def list_clients(
    conn: psycopg.AsyncConnection,
    supplier_id: int,
    *,
    search: str | None = None,
    upcoming_days: int | None = None,
    after: Cursor | None = None,
    today: dt.date | None = None,
    limit: int = PAGE_SIZE,
) -> ClientPage:
    today = today or dt.date.today()
    order: Literal["name", "date"] = "date" if upcoming_days is not None else "name"
    parts = [_LIST_BASE]
    params: dict[str, object] = {"sid": supplier_id, "limit": limit + 1}
    if search is not None:
        parts.append(_SEARCH)
        params["search"] = search
    if upcoming_days is not None:
        parts.append(_UPCOMING)
        params.update(today=today, until=today + dt.timedelta(days=upcoming_days))
    if after is not None:
        parts.append(_AFTER_DATE if order == "date" else _AFTER_NAME)
        params.update(after_key=after.key, after_id=after.id)
    filtered = sql.Composed(parts)
    ordering = _ORDER_DATE if order == "date" else _ORDER_NAME
    matches_first = sql.Composed([_MATCHES_FIRST.format(filtered), ordering])
    if search is not None and order == "name":
        after_clause = _AFTER_NAME if after is not None else sql.SQL("")
        rows = await _search_by_name(conn, filtered, after_clause, matches_first, params)
    elif search is not None:
        planned = await _within_budget(conn, sql.Composed([filtered, ordering]), params)
        rows = await _fetch_rows(conn, matches_first, params) if planned is None else planned
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


async def _search_by_name(
    conn: psycopg.AsyncConnection,
    filtered: sql.Composed,
    after: sql.SQL,
    matches_first: sql.Composed,
    params: dict[str, object],
) -> list[ClientListRow]:
    """The first matches in name order (after the cursor, if any), in the three steps described above."""
    params = {**params, "nearby": SEARCH_NEARBY_NAMES, "few": SEARCH_FEW_MATCHES + 1}
    nearby = await _fetch_rows(conn, _WALK_BY_NAME.format(_NEAR_IDS_BY_NAME.format(after)), params)
    if len(nearby) == params["limit"]:  # a full page (and one more row): nothing before these was skipped
        return nearby
    async with conn.cursor() as cur:
        await cur.execute(_BOOK_ENDS_NEARBY.format(after), params)
        ended = await cur.fetchone()
    if ended is not None and ended[0]:
        return nearby
    # Through the word index only, whatever the planner estimates; the savepoint is always rolled back (it only
    # reads), which also undoes the planner settings.
    async with conn.transaction(force_rollback=True):
        await conn.execute(_BITMAP_ONLY)
        async with conn.cursor(row_factory=_row_and_matched) as cur:
            await cur.execute(_FEW_MATCHES.format(filtered), params)
            few = await cur.fetchall()
    if not few or few[0][1] <= SEARCH_FEW_MATCHES:
        return [row for row, _ in few]
    walk = _WALK_BY_NAME.format(sql.Composed([_PAGE_IDS_BY_NAME, _SEARCH, after]))
    rows = await _within_budget(conn, walk, params)
    return await _fetch_rows(conn, matches_first, params) if rows is None else rows


def _row_and_matched(cursor: psycopg.AsyncCursor[Any]) -> RowMaker[tuple[ClientListRow, int]]:
    names = [column.name for column in cursor.description or ()][:-1]

    def make(values: Sequence[Any]) -> tuple[ClientListRow, int]:
        return ClientListRow(**dict(zip(names, values, strict=False))), int(values[-1])

    return make


async def _within_budget(
    conn: psycopg.AsyncConnection, query: sql.Composed, params: dict[str, object]
) -> list[ClientListRow] | None:
    """The rows, or None when the query took longer than ``SEARCH_WALK_BUDGET_MS``. It runs in a savepoint that is
    always rolled back (it only reads), which also undoes its short timeout for the rest of the transaction."""
    try:
        async with conn.transaction(force_rollback=True):
            await conn.execute(_SET_LOCAL_TIMEOUT, [str(SEARCH_WALK_BUDGET_MS)])
            return await _fetch_rows(conn, query, params)
    except psycopg.errors.QueryCanceled:
        return None


_SET_LOCAL_TIMEOUT = "SELECT set_config('statement_timeout', %s, true)"


async def rows_by_ids(
    conn: psycopg.AsyncConnection, supplier_id: int, ids: Collection[int]
) -> dict[int, ClientListRow]:
    """The list rows of ``ids`` still there, by id."""
    async with conn.cursor(row_factory=class_row(ClientListRow)) as cur:
        await cur.execute(ROWS_BY_IDS, {"sid": supplier_id, "ids": list(ids)})
        return {row.id: row for row in await cur.fetchall()}


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


async def update_client(
    conn: psycopg.AsyncConnection, client_id: int, values: dict[str, Any], *, version: int
) -> Client | None:
    """The edited client, or None when ``version`` is stale (or the client is not visible)."""
    async with conn.cursor(row_factory=class_row(Client)) as cur:
        await cur.execute(UPDATE_CLIENT, {**values, "id": client_id, "version": version})
        return await cur.fetchone()


async def delete_client(conn: psycopg.AsyncConnection, client_id: int) -> bool:
    """Whether a live client was there to delete."""
    cur = await conn.execute(DELETE_CLIENT, [client_id])
    return await cur.fetchone() is not None


async def restore_client(conn: psycopg.AsyncConnection, client_id: int) -> bool:
    """Whether a client deleted in the last 30 days was there to restore."""
    cur = await conn.execute(RESTORE_CLIENT, {"id": client_id, "keep": KEEP_DELETED})
    return await cur.fetchone() is not None


class DeletedClient(ClientListRow, frozen=True):
    deleted_at: dt.datetime


async def deleted_clients(conn: psycopg.AsyncConnection, supplier_id: int, limit: int = 200) -> list[DeletedClient]:
    """The clients deleted in the last 30 days (which can still be restored), newest deletion first."""
    async with conn.cursor(row_factory=class_row(DeletedClient)) as cur:
        await cur.execute(DELETED_CLIENTS, {"sid": supplier_id, "keep": KEEP_DELETED, "limit": limit})
        return await cur.fetchall()
