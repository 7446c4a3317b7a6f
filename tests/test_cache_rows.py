"""Cached list pages and a row change (webapp/cache/rows.py): a status change reads again only the lists that show
that client, and only its row; everything the change log cannot vouch for is read whole. Real Valkey and PostgreSQL,
two ``HotCache`` objects on the same Redis standing for two web processes; through HTTP with two web processes."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import psycopg
import pytest
from redis.asyncio import Redis

import webapp.cache
from core.db.pool import make_async_pool, tenant
from tests.fixtures import Account, Server, Services, same_phone_on, seed_clients
from webapp.cache import LISTS, HotCache
from webapp.cache.guard import Breaker, RedisGuard
from webapp.cache.rows import ROWS_LOG_KEY
from webapp.queries import clients as client_q


class Lists:
    """A supplier's list pages through one ``HotCache`` (one web process), counting whole reads and row reads."""

    def __init__(self, cache: HotCache, pool: Any, supplier_id: int) -> None:
        self.cache, self.pool, self.sid = cache, pool, supplier_id
        self.loads: list[str] = []
        self.refreshed: list[frozenset[int]] = []
        self.during_load: Any = None  # an async callable run between the page's read and its return (a race)

    async def page(self, term: str | None) -> client_q.ClientPage:
        async def load() -> client_q.ClientPage:
            self.loads.append(term or "")
            async with tenant(self.pool, self.sid) as conn:
                got = await client_q.list_clients(conn, self.sid, search=term)
            if self.during_load is not None:
                await self.during_load()
            return got

        async def refresh(cached: client_q.ClientPage, changed: frozenset[int]) -> client_q.ClientPage | None:
            self.refreshed.append(changed)
            async with tenant(self.pool, self.sid) as conn:
                fresh = await client_q.rows_by_ids(conn, self.sid, changed)
            if len(fresh) < len(changed):
                return None
            return client_q.ClientPage([fresh.get(r.id, r) for r in cached.rows], cached.next_cursor)

        gen = await self.cache.generation(self.sid, LISTS)
        return await self.cache.get_listing(
            gen, "t_list", (term,), client_q.ClientPage, load, lambda p: [r.id for r in p.rows], refresh
        )

    async def statuses(self, term: str | None) -> dict[str, str]:
        return {r.partner1_first: r.status for r in (await self.page(term)).rows}


def _set_status(services: Services, client_id: int, status: str) -> None:
    """A status change committed in PostgreSQL (as the route's UPDATE does); the caller bumps as the app does."""
    with psycopg.connect(services.database_url) as conn:
        conn.execute("UPDATE clients SET status = %s, version = version + 1 WHERE id = %s", [status, client_id])


def _run(services: Services, body: Any, **cache_options: Any) -> None:
    async def main() -> None:
        pool = make_async_pool(services.database_url, min_size=1, max_size=4, statement_timeout_ms=5000)
        await pool.open(wait=True)
        redis = Redis.from_url(services.redis_url, socket_connect_timeout=0.5)
        first, second = HotCache(redis, **cache_options), HotCache(redis)
        try:
            await body(first, second, pool, redis)
        finally:
            await redis.aclose()
            await pool.close()

    asyncio.run(main())


@pytest.fixture
def couples(account: Account, services: Services) -> dict[str, int]:
    names = ["Ada", "Bea", "Cy", "Dot"]
    rows = [{"partner1_first": n, "partner1_last": "Rowe" if n in ("Ada", "Bea") else "Vale"} for n in names]
    return dict(zip(names, seed_clients(services.database_url, account.supplier_id, rows), strict=True))


def test_a_status_change_rereads_only_the_row_of_the_lists_that_show_it(
    account: Account, services: Services, couples: dict[str, int]
) -> None:
    async def body(first: HotCache, second: HotCache, pool: Any, redis: Redis) -> None:
        a, b = Lists(first, pool, account.supplier_id), Lists(second, pool, account.supplier_id)
        for lists in (a, b):  # both processes have every page in memory
            for term in (None, "rowe", "vale"):
                await lists.page(term)
        assert (len(a.loads), len(b.loads)) == (3, 0)  # b's came from Redis

        _set_status(services, couples["Cy"], "booked")
        await first.bump(account.supplier_id, f"c:{couples['Cy']}", LISTS, rows=[couples["Cy"]])

        for lists in (a, b):
            assert (await lists.statuses(None))["Cy"] == "booked"
            assert (await lists.statuses("vale")) == {"Cy": "booked", "Dot": "lead"}
            assert (await lists.statuses("rowe")) == {"Ada": "lead", "Bea": "lead"}
        # No page was read whole again; the two pages showing Cy read Cy's row, in one process or the other.
        assert (len(a.loads), len(b.loads)) == (3, 0)
        assert set(a.refreshed + b.refreshed) == {frozenset({couples["Cy"]})}
        assert 2 <= len(a.refreshed) + len(b.refreshed) <= 4
        refreshed = len(a.refreshed) + len(b.refreshed)
        for lists in (a, b):  # and now they are plain hits again
            for term in (None, "rowe", "vale"):
                await lists.page(term)
        assert len(a.refreshed) + len(b.refreshed) == refreshed

    _run(services, body)


def test_a_page_read_while_a_row_changed_is_refreshed_on_the_next_read(
    account: Account, services: Services, couples: dict[str, int]
) -> None:
    """The write commits after the page's read and bumps before the page is stored: the page must be stored under
    the generation read before it was loaded, so the log's entry for the write makes the next read refresh it."""

    async def body(first: HotCache, second: HotCache, pool: Any, redis: Redis) -> None:
        a = Lists(first, pool, account.supplier_id)

        async def concurrent_write() -> None:
            a.during_load = None
            _set_status(services, couples["Ada"], "completed")
            await second.bump(account.supplier_id, LISTS, rows=[couples["Ada"]])  # another process's write

        a.during_load = concurrent_write
        assert (await a.statuses(None))["Ada"] == "lead"  # the read that raced the write: old, as it should be
        assert (await a.statuses(None))["Ada"] == "completed"
        assert a.refreshed == [frozenset({couples["Ada"]})]
        b = Lists(second, pool, account.supplier_id)  # another process starting from the copy in Redis
        assert (await b.statuses(None))["Ada"] == "completed"

    _run(services, body)


@pytest.mark.parametrize("loss", ["log deleted", "log trimmed", "any row", "supplier-wide"])
def test_what_the_log_cannot_vouch_for_is_read_whole(
    account: Account, services: Services, couples: dict[str, int], loss: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def body(first: HotCache, second: HotCache, pool: Any, redis: Redis) -> None:
        sid = account.supplier_id
        a, b = Lists(first, pool, sid), Lists(second, pool, sid)
        await first.bump(sid, LISTS, rows=[couples["Dot"]])  # the log exists and covers what follows
        for lists in (a, b):
            await lists.page("rowe")
        loads = len(a.loads) + len(b.loads)
        _set_status(services, couples["Bea"], "booked")
        if loss == "log deleted":  # evicted, or Redis lost it: the bump recreates it without the past
            await redis.delete(ROWS_LOG_KEY.format(sid))
            await first.bump(sid, LISTS, rows=[couples["Bea"]])
            await redis.delete(ROWS_LOG_KEY.format(sid))
        elif loss == "log trimmed":  # more changes than the log keeps since the page was read
            monkeypatch.setattr(webapp.cache, "LOG_ENTRIES", 2)
            for name in ("Bea", "Cy", "Dot", "Ada"):
                await first.bump(sid, LISTS, rows=[couples[name]])
        elif loss == "any row":
            await first.bump(sid, LISTS)
        else:  # an import, a new lead: which clients a list holds may have changed
            await first.bump(sid)
        for lists in (a, b):
            assert (await lists.statuses("rowe"))["Bea"] == "booked"
        assert len(a.loads) + len(b.loads) > loads
        assert a.refreshed == b.refreshed == []

    _run(services, body)


def test_a_bump_redis_missed_is_replayed_as_any_row(
    account: Account, services: Services, couples: dict[str, int]
) -> None:
    async def body(first: HotCache, second: HotCache, pool: Any, redis: Redis) -> None:
        sid = account.supplier_id
        a, b = Lists(first, pool, sid), Lists(second, pool, sid)
        for lists in (a, b):
            await lists.page(None)
        breaker = first.guard.breaker
        breaker.failures, breaker.open_until = breaker.threshold, float("inf")  # Redis "down" for process A
        _set_status(services, couples["Cy"], "completed")
        await first.bump(sid, LISTS, rows=[couples["Cy"]])
        assert (await a.statuses(None))["Cy"] == "completed"  # the writer's process: fresh at once
        breaker.failures, breaker.open_until = 0, 0.0
        loads = len(a.loads)
        assert (await a.statuses(None))["Cy"] == "completed"  # A's next read replays the bump first...
        assert len(a.loads) == loads + 1  # ...without its rows (lost with the failure): "any row", read whole
        assert (await b.statuses(None))["Cy"] == "completed"  # B's copy from before is not used
        assert a.refreshed == b.refreshed == []

    _run(services, body, guard=RedisGuard(breaker=Breaker(threshold=1, cool_down=60)))


def test_a_row_change_of_one_supplier_leaves_anothers_lists_alone(
    account: Account, services: Services, couples: dict[str, int], server: Server
) -> None:
    from tests.fixtures import signup

    other = signup(server.url, services.database_url)
    [theirs] = seed_clients(services.database_url, other.supplier_id, [{"partner1_first": "Eve"}])

    async def body(first: HotCache, second: HotCache, pool: Any, redis: Redis) -> None:
        mine, others = Lists(first, pool, account.supplier_id), Lists(first, pool, other.supplier_id)
        await mine.page(None)
        assert await others.statuses(None) == {"Eve": "lead"}
        _set_status(services, couples["Ada"], "booked")
        await first.bump(account.supplier_id, LISTS, rows=[couples["Ada"]])
        # A row id of another supplier in a bump changes nothing of theirs (and could not read it: RLS).
        await first.bump(account.supplier_id, LISTS, rows=[theirs])
        assert await others.statuses(None) == {"Eve": "lead"}
        assert (others.loads, others.refreshed) == ([""], [])
        assert (await mine.statuses(None))["Ada"] == "booked"

    _run(services, body)
    other.client.close()


# -- through HTTP: two web processes ------------------------------------------------------------------------------
def _badges(html: str) -> dict[str, str]:
    found = re.findall(r'<span class="name">([^<]+)</span>.*?<span class="badge (\w+)">', html, re.S)
    return {name.split()[0]: status for name, status in found}


def test_a_status_change_through_one_process_shows_in_every_list_of_both(
    account: Account, services: Services, couples: dict[str, int], second: Server
) -> None:
    a, b = account.client, same_phone_on(account, second)
    htmx = {"HX-Request": "true"}
    queries: list[dict[str, str]] = [{}, {"q": "rowe"}, {"q": "vale"}]
    etags: dict[tuple[int, int], str] = {}
    for n, c in enumerate((a, b)):
        for i, params in enumerate(queries):
            c.get("/clients/", params=params)  # the full page too
            etags[(n, i)] = c.get("/clients/", params=params, headers=htmx).headers["etag"]

    token = re.search(r'name="_csrf_token" value="([^"]+)"', b.get(f"/clients/{couples['Dot']}").text)
    assert token
    resp = b.post(
        f"/clients/{couples['Dot']}/status", data={"_csrf_token": token.group(1), "status": "booked", "version": "1"}
    )
    assert resp.status_code == 303

    for n, c in enumerate((a, b)):
        assert _badges(c.get("/clients/").text)["Dot"] == "booked"
        assert _badges(c.get("/clients/", params={"q": "vale"}, headers=htmx).text)["Dot"] == "booked"
        # A list that does not show Dot is the same bytes, so the phone's copy is still good: 304.
        same = c.get("/clients/", params={"q": "rowe"}, headers={**htmx, "If-None-Match": etags[(n, 1)]})
        assert same.status_code == 304
        for i in (0, 2):
            changed = c.get("/clients/", params=queries[i], headers={**htmx, "If-None-Match": etags[(n, i)]})
            assert changed.status_code == 200
            assert _badges(changed.text)["Dot"] == "booked"
    b.close()
