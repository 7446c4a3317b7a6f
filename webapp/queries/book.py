"""The client book a phone keeps offline (sw/book.js): the clients changed since a cursor, and the ones deleted.

A cursor is opaque to the phone. Inside it: the studio, the transaction horizon the sweep started from (``since``:
rows whose ``book_xid`` is at or after it, migrations/0032), where the sweep's pages have got to (``after``), and the
horizon the next sweep starts from (``until``: the oldest transaction still running when the sweep began, so nothing
committed later is skipped). ``since`` 0 is the whole book.
"""

from __future__ import annotations

from typing import cast

import psycopg
from msgspec import Struct

PAGE_ROWS = 2000

# One client as the phone keeps it: an array, not an object with long keys (20,000 clients must fit in 1.5 MB).
# The last element is the client's search words exactly as the server's search holds them (search_words, migrations
# 0009/0011/0018: lower-cased, accents folded by unaccent, split at spaces and punctuation, phones as E.164 digits),
# so the phone matches what the server would. Keep in step with sw/book.js (F_* indexes) and the trigger's field list.
BOOK_COLUMNS = (
    "id, partner1_first, partner1_last, partner2_first, partner2_last, coalesce(wedding_date::text, ''), "
    "coalesce(venue, ''), coalesce(partner1_phone, ''), coalesce(partner2_phone, ''), "
    "coalesce(partner1_email, ''), coalesce(partner2_email, ''), status, "
    "array_to_string(tsvector_to_array(search_words), ' ')"
)
BookRow = tuple[int, str, str, str, str, str, str, str, str, str, str, str, str]

# The horizon for the next sweep, and the newest purged tombstone (a cursor at or before it is too old).
HORIZON = (
    "SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint, "
    "(SELECT purged_below FROM book_horizon)::text::bigint"
)
# The sweep's next page, in (book_xid, id) order on clients_book_idx. A whole-book sweep leaves deleted clients out;
# an incremental one sends them, as deletions.
CHANGES = (
    "SELECT " + BOOK_COLUMNS + ", deleted_at IS NOT NULL, book_xid::text::bigint FROM clients "
    "WHERE supplier_id = %(sid)s AND book_xid >= %(since)s::text::xid8 "
    "AND (book_xid, id) > (%(after_xid)s::text::xid8, %(after_id)s) "
    "AND (%(since)s > 0 OR deleted_at IS NULL) "
    "ORDER BY book_xid, id LIMIT %(limit)s"
)
# Clients deleted outright (merged away, undone imports, purged) since the sweep's start.
DELETIONS = "SELECT client_id FROM book_deletions WHERE supplier_id = %(sid)s AND book_xid >= %(since)s::text::xid8"


class Cursor(Struct, frozen=True):
    supplier_id: int
    since: int = 0
    after_xid: int = 0
    after_id: int = 0
    until: int = 0  # 0: a new sweep, whose horizon is read when it starts

    def encode(self) -> str:
        if not self.until:
            return f"{self.supplier_id}.{self.since}"
        return f"{self.supplier_id}.{self.since}.{self.after_xid}.{self.after_id}.{self.until}"

    @classmethod
    def decode(cls, text: str | None, supplier_id: int) -> Cursor | None:
        """The cursor, or None when there is none, it is malformed or it is another studio's (a phone that changed
        account keeps nothing of the other's book): the whole book then."""
        try:
            parts = [int(p) for p in (text or "").split(".")]
        except ValueError:
            return None
        if len(parts) not in (2, 5) or parts[0] != supplier_id or any(p < 0 for p in parts):
            return None
        if len(parts) == 2:
            return cls(supplier_id, since=parts[1])
        return cls(supplier_id, parts[1], parts[2], parts[3], parts[4])


class Changes(Struct, frozen=True):
    full: bool  # the phone replaces its copy (first page of a whole-book sweep)
    more: bool  # ask again with ``cursor`` straight away
    cursor: str
    rows: list[BookRow]
    deleted: list[int]


async def changes(conn: psycopg.AsyncConnection, supplier_id: int, text: str | None, limit: int = PAGE_ROWS) -> Changes:
    cursor = Cursor.decode(text, supplier_id)
    cur = await conn.execute(HORIZON)
    horizon = await cur.fetchone()
    assert horizon is not None
    now, purged_below = int(horizon[0]), int(horizon[1])
    full = False
    if cursor is None or (cursor.since and cursor.since <= purged_below):
        cursor, full = Cursor(supplier_id), True
    first = not cursor.until
    if first:
        cursor = Cursor(supplier_id, cursor.since, cursor.since, 0, now)
    cur = await conn.execute(
        CHANGES,
        {"sid": supplier_id, "since": cursor.since, "after_xid": cursor.after_xid, "after_id": cursor.after_id,
         "limit": limit},
    )  # fmt: skip
    found = await cur.fetchall()
    rows: list[BookRow] = []
    deleted: list[int] = []
    for row in found:
        if row[13]:  # deleted (soft) since the cursor: the phone drops it
            deleted.append(row[0])
        else:
            rows.append(cast(BookRow, row[:13]))
    if first and cursor.since:
        cur = await conn.execute(DELETIONS, {"sid": supplier_id, "since": cursor.since})
        deleted.extend(r[0] for r in await cur.fetchall())
    more = len(found) == limit
    if more:
        last = found[-1]
        following = Cursor(supplier_id, cursor.since, int(last[14]), int(last[0]), cursor.until)
    else:
        following = Cursor(supplier_id, cursor.until)
    return Changes(full=full, more=more, cursor=following.encode(), rows=rows, deleted=deleted)
