"""The signed-in home page."""

from __future__ import annotations

import datetime as dt
from typing import Any

import msgspec
from litestar import Request, Response, get
from litestar.response import Redirect

from core.db.pool import tenant
from webapp.auth import signed_in_supplier_id
from webapp.cache import LISTS
from webapp.models import ClientListRow, DashboardCounts
from webapp.queries import clients as client_q
from webapp.queries import jobs as job_q
from webapp.queries import suppliers as supplier_q
from webapp.rendering import page
from webapp.state import resources

UPCOMING_DAYS = 60


class DashboardData(msgspec.Struct, frozen=True):
    counts: DashboardCounts
    upcoming: list[ClientListRow]


@get("/", name="dashboard")
async def show_dashboard(request: Request[Any, Any, Any]) -> Response[str] | Redirect:
    supplier_id = signed_in_supplier_id(request)
    if supplier_id is None:
        return Redirect("/login")
    res = resources(request)

    async def load() -> DashboardData:
        async with tenant(res.pool, supplier_id) as conn:
            counts = await client_q.dashboard_counts(conn, supplier_id, days=UPCOMING_DAYS)
            upcoming = await client_q.list_clients(conn, supplier_id, upcoming_days=UPCOMING_DAYS, limit=5)
        return DashboardData(counts, upcoming.rows)

    # Counts and upcoming weddings are hot and cached; the supplier row (is the account still there?) and the
    # jobs (their status moves without a client write) are read fresh.
    today = dt.date.today().isoformat()  # the upcoming window moves at midnight
    gen = await res.cache.generation(supplier_id, LISTS)
    data = await res.cache.get(gen, "dashboard", (UPCOMING_DAYS, today), DashboardData, load)
    async with tenant(res.pool, supplier_id) as conn:
        supplier = await supplier_q.get_supplier(conn, supplier_id)
        if supplier is None:  # account gone: the session is stale
            request.clear_session()
            return Redirect("/login")
        jobs = await job_q.recent_jobs(conn, supplier_id)
    return page(
        request,
        "dashboard.html",
        supplier=supplier,
        counts=data.counts,
        upcoming=data.upcoming,
        jobs=jobs,
        upcoming_days=UPCOMING_DAYS,
    )
