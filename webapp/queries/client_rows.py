"""Client list rows by id: what a cached list page reads again when some of its rows changed (webapp/cache/rows.py).

Runs inside a supplier-scoped transaction like every query; the ``supplier_id`` predicate is there for clarity and
the plan (the primary key serves ``id = ANY``), RLS is what guarantees isolation.
"""

from __future__ import annotations

from collections.abc import Collection

import msgspec
import psycopg
from psycopg.rows import class_row

from webapp.models import ClientListRow

# The columns are the row Struct's own, so this query and the list's can never disagree on what a row holds.
_COLUMNS = ", ".join(field.name for field in msgspec.structs.fields(ClientListRow))
ROWS_BY_IDS = "SELECT " + _COLUMNS + " FROM clients WHERE supplier_id = %(sid)s AND id = ANY(%(ids)s)"


async def rows_by_ids(
    conn: psycopg.AsyncConnection, supplier_id: int, ids: Collection[int]
) -> dict[int, ClientListRow]:
    """The rows of ``ids`` still there, by id."""
    async with conn.cursor(row_factory=class_row(ClientListRow)) as cur:
        await cur.execute(ROWS_BY_IDS, {"sid": supplier_id, "ids": list(ids)})
        return {row.id: row for row in await cur.fetchall()}
