"""GET /book/changes: the phone's offline copy of the client book, refreshed with what changed (sw/book.js).

Compact JSON (msgspec; gzip by the app's compression), never cached by anyone: it is the studio's whole client list.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

import msgspec
import phonenumbers
import psycopg
from litestar import Request, Response, get
from litestar.params import Parameter

from webapp.auth import require_supplier
from webapp.dependencies import SIGNED_IN
from webapp.queries import book as q
from webapp.rendering import studio_of_request


class BookStudio(msgspec.Struct, frozen=True):
    """What the phone needs to show and search the book as the server would: the studio's time zone and date style
    (dates, "saved at"), and its country's calling code and trunk prefix (a typed national number → E.164 digits,
    as webapp.search.search_terms does)."""

    timezone: str
    date_style: str
    country_code: str
    trunk: str


class BookPage(msgspec.Struct, frozen=True):
    account: int  # the studio whose book this is: a phone never mixes two studios' clients
    full: bool
    more: bool
    cursor: str
    at: str  # when this page was read (ISO, UTC): the "saved at" of the copy
    studio: BookStudio
    rows: list[q.BookRow]
    deleted: list[int]


@get("/book/changes", name="book_changes", guards=[require_supplier], dependencies=SIGNED_IN)
async def book_changes(
    request: Request[Any, Any, Any],
    conn: psycopg.AsyncConnection,
    supplier_id: int,
    since: Annotated[str | None, Parameter(max_length=120)] = None,
) -> Response[bytes]:
    found = await q.changes(conn, supplier_id, since)
    studio = studio_of_request(request)
    region = studio.region
    body = BookPage(
        account=supplier_id,
        full=found.full,
        more=found.more,
        cursor=found.cursor,
        at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        studio=BookStudio(
            timezone=studio.timezone,
            date_style=studio.date_style,
            country_code=str(phonenumbers.country_code_for_region(region) or ""),
            trunk=phonenumbers.ndd_prefix_for_region(region, True) or "",
        ),
        rows=found.rows,
        deleted=found.deleted,
    )
    return Response(
        msgspec.json.encode(body),
        media_type="application/json",
        headers={"cache-control": "no-store", "vary": "Cookie"},
    )
