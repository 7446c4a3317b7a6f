"""The home page's hot numbers: counts by status and the next weddings."""

from __future__ import annotations

import msgspec

from core.db.pool import tenant
from webapp.cache import LISTS
from webapp.models import ClientListRow, DashboardCounts
from webapp.queries import clients as client_q
from webapp.reads.studio import studio_of
from webapp.state import Resources

UPCOMING_DAYS = 60


class DashboardData(msgspec.Struct, frozen=True):
    counts: DashboardCounts
    upcoming: list[ClientListRow]


async def dashboard_data(res: Resources, supplier_id: int) -> DashboardData:
    studio = await studio_of(res, supplier_id)
    day = studio.today()  # the upcoming window moves at the studio's midnight

    async def load() -> DashboardData:
        async with tenant(res.pool, supplier_id) as conn:
            counts = await client_q.dashboard_counts(conn, supplier_id, days=UPCOMING_DAYS, today=day)
            upcoming = await client_q.list_clients(conn, supplier_id, upcoming_days=UPCOMING_DAYS, limit=5, today=day)
        return DashboardData(counts, upcoming.rows)

    today = day.isoformat()
    gen = await res.cache.generation(supplier_id, LISTS)
    return await res.cache.get(gen, "dashboard", (UPCOMING_DAYS, today), DashboardData, load)
