"""The studio's CRM connections as the integrations page lists them."""

from __future__ import annotations

from core.db.pool import tenant
from webapp.queries import integrations as q
from webapp.state import Resources


async def integration_summaries(res: Resources, supplier_id: int, *, fresh: bool = False) -> list[q.IntegrationSummary]:
    """Cached as IntegrationSummary: names, providers and addresses only; the encrypted key is never selected.
    ``fresh``: read past the cache (a POST renders what it just wrote; its generation bump happens only as the
    response starts)."""

    async def load() -> list[q.IntegrationSummary]:
        async with tenant(res.pool, supplier_id) as conn:
            return await q.list_integrations(conn, supplier_id)

    if fresh:
        return await load()
    gen = await res.cache.generation(supplier_id)
    return await res.cache.get(gen, "integrations", (), list[q.IntegrationSummary], load)
