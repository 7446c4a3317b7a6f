"""The signed-in studio's settings, read once per request without a Redis round trip (``HotCache.settings_memo``)."""

from __future__ import annotations

import psycopg
import structlog
from psycopg_pool import PoolTimeout

from core.db.pool import unscoped
from webapp.queries import suppliers as q
from webapp.state import Resources
from webapp.studio import Studio

log = structlog.get_logger("wedsync.studio")


async def studio_of(res: Resources, supplier_id: int) -> Studio:
    """The studio's settings; the defaults for an account that is gone (its pages send it to sign in anyway). Should
    PostgreSQL not answer, the settings this process read in the last half minute (or the defaults): a page that can
    still be served from the cache is not failed for want of its time zone."""
    memo = res.cache.settings_memo
    key = (supplier_id, res.cache.local_version(supplier_id))
    found = memo.get(key)
    if isinstance(found, Studio):
        return found
    try:
        async with unscoped(res.pool) as conn:  # suppliers has no tenant policy: the row is asked for by id
            studio = await q.get_studio(conn, supplier_id)
    except (psycopg.OperationalError, PoolTimeout) as exc:
        log.warning("studio settings unavailable; using the last read or the defaults", error=type(exc).__name__)
        last = memo.get((supplier_id, None))
        return last if isinstance(last, Studio) else Studio(region=res.settings.default_region)
    studio = studio or Studio(region=res.settings.default_region)
    memo[key] = memo[(supplier_id, None)] = studio
    return studio
