"""Weddings on a calendar: "Add to calendar" (.ics) per wedding, and a studio's private feed that a phone's calendar
app subscribes to (its secret address is the only key: calendar apps cannot sign in)."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import psycopg
from litestar import Request, Response, get
from litestar.exceptions import NotFoundException

from core.db.pool import tenant, unscoped
from webapp.auth import require_supplier
from webapp.dependencies import SIGNED_IN
from webapp.ics import Wedding, calendar
from webapp.queries import calendar as q
from webapp.rendering import page, studio_of_request
from webapp.state import Resources
from webapp.studio import Studio

UID_HOST = "wedsync-hub"  # part of every event's UID: the same wedding is the same event in every file and feed
ICS = "text/calendar"  # Litestar adds "; charset=utf-8"
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{32,64}$")


def feed_path(token: str) -> str:
    return f"/calendar/{token}/weddings.ics"


@get("/clients/{client_id:int}/wedding.ics", name="wedding_ics", guards=[require_supplier], dependencies=SIGNED_IN)
async def wedding_ics(
    request: Request[Any, Any, Any], conn: psycopg.AsyncConnection, client_id: int
) -> Response[bytes]:
    wedding = await q.get_wedding(conn, client_id)  # row-level security: another studio's client is not there
    if wedding is None:
        raise NotFoundException("We couldn't find a wedding date for that client.")
    studio = studio_of_request(request)
    body = calendar([wedding], host=UID_HOST, name=studio.business_name or "Weddings", timezone=studio.timezone)
    return Response(
        body,
        media_type=ICS,
        headers={
            "content-disposition": f'attachment; filename="wedding-{client_id}.ics"',
            "cache-control": "private, no-cache",
        },
    )


@get("/weddings", name="weddings_by_month", guards=[require_supplier], dependencies=SIGNED_IN)
async def weddings_by_month(
    request: Request[Any, Any, Any], conn: psycopg.AsyncConnection, supplier_id: int
) -> Response[str]:
    """The season at a glance: the next twelve months' weddings under their month, each one tap from its couple and
    its "Add to calendar"."""
    studio = studio_of_request(request)
    weddings = await q.ahead(conn, supplier_id, studio.today())
    months: list[tuple[dt.date, list[Wedding]]] = []
    for wedding in weddings:
        first = wedding.wedding_date.replace(day=1)
        if not months or months[-1][0] != first:
            months.append((first, []))
        months[-1][1].append(wedding)
    return page(request, "clients/weddings.html", months=months, count=len(weddings))


@get("/calendar/{token:str}/weddings.ics", name="calendar_feed")
async def calendar_feed(res: Resources, token: str) -> Response[bytes]:
    """The season (from a year ago on) for whoever holds the address; an unknown or reset address is a 404."""
    if not _TOKEN.match(token):
        raise NotFoundException("We couldn't find that calendar.")
    async with unscoped(res.pool) as conn:
        owner = await q.feed_owner(conn, token)
    if owner is None:
        raise NotFoundException("We couldn't find that calendar.")
    today = Studio(timezone=owner.timezone).today()
    async with tenant(res.pool, owner.id) as conn:
        weddings = await q.season(conn, owner.id, today)
    body = calendar(weddings, host=UID_HOST, name=f"{owner.business_name} weddings", timezone=owner.timezone)
    return Response(
        body,
        media_type=ICS,
        headers={
            "content-disposition": 'inline; filename="weddings.ics"',
            "cache-control": "private, max-age=900",
            "referrer-policy": "no-referrer",
        },
    )
