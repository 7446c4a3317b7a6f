"""Studio settings: business name, the country phone numbers are read in, time zone and date style."""

from __future__ import annotations

import datetime as dt
import secrets
from typing import Any

import psycopg
from litestar import Controller, Request, Response, get, post
from litestar.response import Redirect

from webapp.auth import require_supplier
from webapp.dependencies import SIGNED_IN
from webapp.forms import FormError, parse, read_form
from webapp.queries import calendar as calendar_q
from webapp.queries import suppliers as q
from webapp.rendering import STUDIO_STATE, page
from webapp.routes.calendar import feed_path
from webapp.schemas.settings import SettingsForm
from webapp.studio import DATE_STYLES, Studio, regions, time_zones, valid_region, valid_time_zone


async def _form_page(
    request: Request[Any, Any, Any],
    conn: psycopg.AsyncConnection,
    supplier_id: int,
    form: dict[str, str],
    *,
    status_code: int = 200,
    error: str | None = None,
) -> Response[str]:
    token = await calendar_q.get_token(conn, supplier_id)
    feed = f"{str(request.base_url).rstrip('/')}{feed_path(token)}" if token else None
    return page(
        request,
        "settings/page.html",
        status_code=status_code,
        form=form,
        error=error,
        saved=request.query_params.get("saved") == "1" and error is None,
        regions=regions(),
        time_zones=time_zones(),
        date_styles=DATE_STYLES,
        now=dt.datetime.now(dt.UTC),
        feed_url=feed,
        webcal_url=feed.replace("https://", "webcal://", 1).replace("http://", "webcal://", 1) if feed else None,
        feed_reset=request.query_params.get("calendar") == "new",
    )


def _cleaned(raw: dict[str, str]) -> Studio:
    data = parse(raw, SettingsForm)
    region = data.region.upper()
    if not valid_region(region):
        raise FormError("Pick the country your clients' phone numbers are from.", "region")
    if not valid_time_zone(data.timezone):
        raise FormError("Pick a time zone from the list (e.g. Europe/London).", "timezone")
    return Studio(business_name=data.business_name, region=region, timezone=data.timezone, date_style=data.date_style)


class SettingsController(Controller):
    path = "/settings"
    guards = [require_supplier]
    dependencies = SIGNED_IN

    @get("/", name="settings")
    async def show_settings(
        self, request: Request[Any, Any, Any], conn: psycopg.AsyncConnection, supplier_id: int
    ) -> Response[str]:
        studio = await q.get_studio(conn, supplier_id) or Studio()
        form = {
            "business_name": studio.business_name,
            "region": studio.region,
            "timezone": studio.timezone,
            "date_style": studio.date_style,
        }
        return await _form_page(request, conn, supplier_id, form)

    @post("/", name="save_settings")
    async def save_settings(
        self, request: Request[Any, Any, Any], conn: psycopg.AsyncConnection, supplier_id: int
    ) -> Response[str] | Redirect:
        raw = await read_form(request)
        try:
            studio = _cleaned(raw)
        except FormError as exc:
            return await _form_page(request, conn, supplier_id, raw, status_code=422, error=exc.message)
        await q.update_studio(conn, supplier_id, studio)
        request.state[STUDIO_STATE] = studio
        return Redirect("/settings?saved=1", status_code=303)

    @post("/calendar", name="reset_calendar_feed")
    async def reset_calendar_feed(self, conn: psycopg.AsyncConnection, supplier_id: int) -> Redirect:
        """A new secret address for the weddings feed; the old one stops working at once (a phone it was shared
        with, a lost phone)."""
        await calendar_q.set_token(conn, supplier_id, secrets.token_urlsafe(32))
        return Redirect("/settings?calendar=new#calendar", status_code=303)
