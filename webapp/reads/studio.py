"""The signed-in studio's settings, read once per request without a Redis round trip (``HotCache.settings_memo``)."""

from __future__ import annotations

from core.db.pool import unscoped
from webapp.queries import suppliers as q
from webapp.state import Resources
from webapp.studio import Studio


async def studio_of(res: Resources, supplier_id: int) -> Studio:
    """The studio's settings; the defaults for an account that is gone (its pages send it to sign in anyway)."""
    key = (supplier_id, res.cache.local_version(supplier_id))
    found = res.cache.settings_memo.get(key)
    if isinstance(found, Studio):
        return found
    async with unscoped(res.pool) as conn:  # suppliers has no tenant policy: the row is asked for by id
        studio = await q.get_studio(conn, supplier_id)
    studio = studio or Studio(region=res.settings.default_region)
    res.cache.settings_memo[key] = studio
    return studio
