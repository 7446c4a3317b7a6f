"""The signed-in home page."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get
from litestar.response import Redirect

from core.db.pool import tenant
from webapp.auth import signed_in_supplier_id
from webapp.queries import jobs as job_q
from webapp.queries import suppliers as supplier_q
from webapp.reads.dashboard import UPCOMING_DAYS, dashboard_data
from webapp.rendering import page
from webapp.state import Resources


@get("/", name="dashboard")
async def show_dashboard(request: Request[Any, Any, Any], res: Resources) -> Response[str] | Redirect:
    supplier_id = signed_in_supplier_id(request)
    if supplier_id is None:
        return Redirect("/login")
    # Counts and upcoming weddings are hot and cached; the supplier row (is the account still there?) and the
    # jobs (their status moves without a client write) are read fresh.
    data = await dashboard_data(res, supplier_id)
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
