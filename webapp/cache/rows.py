"""Which clients' rows changed since a list page was cached: the change log behind the ``"lists"`` generation.

A status change alters one row of the lists it is in, never which clients a list holds or their order (lists sort
by name or wedding date and filter on the search text and the date, none of which a status is part of). So the
``"lists"`` generation (``wedsync:gen:<sid>:lists``) is not part of a list page's key. Every bump of it instead
records, in the same Lua call, the rows it changed in a per-supplier sorted set (member: client id, score: the
generation the bump produced). A cached page carries the ``"lists"`` generation it was read at; when the generation
has moved, the log says which rows changed since, and only a page holding one of them is read again (and then only
those rows). Anything that changes which clients a list holds (an import, a new lead, any undeclared route) bumps
the supplier's whole generation, which is in every key.

Exact, not probabilistic: every bump of the ``"lists"`` generation goes through ``BUMP_LISTS`` (``HotCache`` has no
other path to it), and the log can only under-report by losing entries, which the marker catches:

* the member ``!`` (it sorts before every id among equal scores, so it always has rank 0) scores the highest
  generation the log may be missing changes up to. A page read at generation ``g`` can be checked only if ``! <= g``;
  otherwise (the log was trimmed past ``g``, or created after ``g``) the page is read again whole.
* a log that is missing (expired, evicted, Redis restarted) has no marker: whole reads again, until a bump creates
  it with the marker at the generation before that bump (at "now" if that too is gone: then nothing older passes).
* a bump without row ids (``"*"``) means "any row": whole reads for every page older than it.
"""

from __future__ import annotations

from typing import Any

from redis.asyncio import Redis

from core.cache_generations import BUMP_PREFIX
from webapp.cache.guard import RedisDown, RedisGuard

ROWS_LOG_KEY = "wedsync:rows:{}"
MARKER = "!"
ANY_ROW = "*"
LOG_ENTRIES = 1_024  # rows remembered per supplier; a cached page lives at most ~15 min, far fewer status changes

# After the shared bump (``BUMP_PREFIX``: KEYS 1-3, ARGV 1-3, sets ``prev`` and ``v``): KEYS[4] the log, ARGV[4] the
# log size, ARGV[5...] the changed ids (or "*").
BUMP_LISTS = (
    BUMP_PREFIX
    + """
if redis.call('EXISTS', KEYS[4]) == 0 then
  redis.call('ZADD', KEYS[4], prev and tonumber(prev) or (v - 1), '!')
end
for i = 5, #ARGV do redis.call('ZADD', KEYS[4], v, ARGV[i]) end
local excess = redis.call('ZCARD', KEYS[4]) - 1 - tonumber(ARGV[4])
if excess > 0 then
  local cut = redis.call('ZRANGE', KEYS[4], 1, excess, 'WITHSCORES')
  redis.call('ZREMRANGEBYRANK', KEYS[4], 1, excess)
  redis.call('ZADD', KEYS[4], cut[#cut], '!')
end
redis.call('EXPIRE', KEYS[4], ARGV[3])
return {v, s}
"""
)


async def changed_rows(redis: Redis, guard: RedisGuard, supplier_id: int, since: int) -> frozenset[int] | None:
    """Ids of the rows changed after generation ``since`` (and possibly a few later ones), or None when the log
    cannot tell (missing, trimmed past ``since``, a change to any row, Redis away): then read the page whole."""
    key = ROWS_LOG_KEY.format(supplier_id)

    async def read() -> list[Any]:
        async with redis.pipeline(transaction=True) as pipe:  # MULTI: no bump can trim between the two reads
            pipe.zscore(key, MARKER)
            pipe.zrangebyscore(key, f"({since}", "+inf")
            return list(await pipe.execute())

    try:
        marker, members = await guard.run("rows", read)
    except RedisDown:
        return None
    if marker is None or marker > since:
        return None
    ids = set()
    for member in members:
        if not member.isdigit():  # "*" (any row); the marker is never above ``since`` here
            return None
        ids.add(int(member))
    return frozenset(ids)
