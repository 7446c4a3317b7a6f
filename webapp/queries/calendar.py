"""Weddings for calendars: one client's, a studio's season, and the feed's secret."""

from __future__ import annotations

import datetime as dt

import msgspec
import psycopg
from psycopg.rows import class_row

from webapp.ics import Wedding

FEED_PAST_DAYS = 365  # last season stays in the phone's calendar; older weddings drop out of the feed
FEED_MAX_WEDDINGS = 5_000

_WEDDING = """
SELECT id AS client_id, partner1_first, partner1_last, partner2_first, partner2_last, wedding_date, venue, updated_at
FROM clients
"""
GET_WEDDING = _WEDDING + "WHERE id = %s AND wedding_date IS NOT NULL AND deleted_at IS NULL"
# clients_wedding_date_idx (supplier_id, wedding_date), in date order.
SEASON = (
    _WEDDING + "WHERE supplier_id = %(sid)s AND wedding_date >= %(since)s AND deleted_at IS NULL "
    "ORDER BY wedding_date, id LIMIT %(limit)s"
)


# The weddings page: the next months, in date order (clients_wedding_date_idx).
AHEAD = (
    _WEDDING + "WHERE supplier_id = %(sid)s AND wedding_date BETWEEN %(since)s AND %(until)s AND deleted_at IS NULL "
    "ORDER BY wedding_date, id LIMIT %(limit)s"
)
AHEAD_MONTHS = 12


async def ahead(conn: psycopg.AsyncConnection, supplier_id: int, today: dt.date) -> list[Wedding]:
    """The weddings from ``today`` to the end of the month twelve months on."""
    year, month = divmod(today.month - 1 + AHEAD_MONTHS + 1, 12)
    until = dt.date(today.year + year, month + 1, 1) - dt.timedelta(days=1)
    async with conn.cursor(row_factory=class_row(Wedding)) as cur:
        await cur.execute(AHEAD, {"sid": supplier_id, "since": today, "until": until, "limit": FEED_MAX_WEDDINGS})
        return await cur.fetchall()


class FeedOwner(msgspec.Struct, frozen=True):
    id: int
    business_name: str
    timezone: str


FEED_OWNER = "SELECT id, business_name, timezone FROM suppliers WHERE calendar_token = %s"
GET_FEED_TOKEN = "SELECT calendar_token FROM suppliers WHERE id = %s"  # noqa: S105 - SQL, not a secret
SET_FEED_TOKEN = "UPDATE suppliers SET calendar_token = %s WHERE id = %s"  # noqa: S105 - SQL, not a secret


async def get_wedding(conn: psycopg.AsyncConnection, client_id: int) -> Wedding | None:
    async with conn.cursor(row_factory=class_row(Wedding)) as cur:
        await cur.execute(GET_WEDDING, [client_id])
        return await cur.fetchone()


async def season(conn: psycopg.AsyncConnection, supplier_id: int, today: dt.date) -> list[Wedding]:
    since = today - dt.timedelta(days=FEED_PAST_DAYS)
    async with conn.cursor(row_factory=class_row(Wedding)) as cur:
        await cur.execute(SEASON, {"sid": supplier_id, "since": since, "limit": FEED_MAX_WEDDINGS})
        return await cur.fetchall()


async def feed_owner(conn: psycopg.AsyncConnection, token: str) -> FeedOwner | None:
    async with conn.cursor(row_factory=class_row(FeedOwner)) as cur:
        await cur.execute(FEED_OWNER, [token])
        return await cur.fetchone()


async def get_token(conn: psycopg.AsyncConnection, supplier_id: int) -> str | None:
    cur = await conn.execute(GET_FEED_TOKEN, [supplier_id])
    row = await cur.fetchone()
    return str(row[0]) if row and row[0] else None


async def set_token(conn: psycopg.AsyncConnection, supplier_id: int, token: str) -> None:
    await conn.execute(SET_FEED_TOKEN, [token, supplier_id])
