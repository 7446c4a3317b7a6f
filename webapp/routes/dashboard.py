"""The signed-in home page."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get
from litestar.response import Redirect

from webapp.auth import signed_in_supplier_id
from webapp.db.pool import tenant
from webapp.queries import clients as client_q
from webapp.queries import jobs as job_q
from webapp.queries import suppliers as supplier_q
from webapp.rendering import page
from webapp.state import resources

UPCOMING_DAYS = 60


@get("/", name="dashboard")
async def show_dashboard(request: Request[Any, Any, Any]) -> Response[str] | Redirect:
    supplier_id = signed_in_supplier_id(request)
    if supplier_id is None:
        return Redirect("/login")
    async with tenant(resources(request).pool, supplier_id) as conn:
        supplier = await supplier_q.get_supplier(conn, supplier_id)
        if supplier is None:  # account gone: the session is stale
            request.clear_session()
            return Redirect("/login")
        counts = await client_q.dashboard_counts(conn, supplier_id, days=UPCOMING_DAYS)
        upcoming = await client_q.list_clients(conn, supplier_id, upcoming_days=UPCOMING_DAYS, limit=5)
        jobs = await job_q.recent_jobs(conn, supplier_id)
    return page(
        request,
        "dashboard.html",
        supplier=supplier,
        counts=counts,
        upcoming=upcoming.rows,
        jobs=jobs,
        upcoming_days=UPCOMING_DAYS,
    )
