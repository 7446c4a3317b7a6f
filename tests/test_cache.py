"""The hot-read cache: unit-level against the session's real Valkey and PostgreSQL, then through HTTP with two
real web processes sharing them (and, for imports, the real Dramatiq worker)."""

from __future__ import annotations

import asyncio
import re
import secrets
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import psycopg
import redis as sync_redis
from prometheus_client.parser import text_string_to_metric_families
from redis.asyncio import Redis

from core.db.pool import make_async_pool, tenant
from tests.fixtures import (
    ROOT,
    Account,
    Server,
    Services,
    browser_client,
    csrf_from,
    free_port,
    same_phone_on,
    seed_clients,
    signup,
)
from webapp.cache import GEN_KEY, HotCache
from webapp.cache.guard import Breaker, RedisGuard
from webapp.models import DashboardCounts
from webapp.queries import clients as client_q


# -- unit level: HotCache against real Valkey and PostgreSQL ------------------------------------------------------
class Counted:
    """A loader running the real dashboard-counts query, counting how often PostgreSQL is asked."""

    def __init__(self, pool: Any, supplier_id: int, gate: asyncio.Event | None = None) -> None:
        self.pool, self.supplier_id, self.gate = pool, supplier_id, gate
        self.calls = 0
        self.entered = asyncio.Event()

    async def __call__(self) -> DashboardCounts:
        self.calls += 1
        self.entered.set()
        if self.gate is not None:
            await self.gate.wait()
        async with tenant(self.pool, self.supplier_id) as conn:
            return await client_q.dashboard_counts(conn, self.supplier_id, days=60)


def _insert_unannounced(services: Services, supplier_id: int, first: str) -> None:
    """A client written behind the cache's back (``seed_clients`` announces its writes, as a worker does)."""
    with psycopg.connect(services.database_url) as conn:
        conn.execute(
            "INSERT INTO clients (supplier_id, source, external_id, partner1_first) VALUES (%s, 'csv', %s, %s)",
            [supplier_id, f"u-{first}-{supplier_id}", first],
        )


def _run(services: Services, body: Any, *, redis_url: str | None = None, **cache_options: Any) -> None:
    async def main() -> None:
        pool = make_async_pool(services.database_url, min_size=1, max_size=4, statement_timeout_ms=5000)
        await pool.open(wait=True)
        redis = Redis.from_url(redis_url or services.redis_url, socket_connect_timeout=0.5)
        cache = HotCache(redis, **cache_options)
        try:
            await body(cache, pool, redis)
        finally:
            await redis.aclose()
            await pool.close()

    asyncio.run(main())


def test_single_flight_cold_key_queries_postgres_once(account: Account, services: Services) -> None:
    seed_clients(services.database_url, account.supplier_id, [{"partner1_first": f"P{i}"} for i in range(3)])

    async def body(cache: HotCache, pool: Any, redis: Redis) -> None:
        gate = asyncio.Event()
        load = Counted(pool, account.supplier_id, gate)
        gen = await cache.generation(account.supplier_id)
        first = [asyncio.create_task(cache.get(gen, "t_counts", (), DashboardCounts, load)) for _ in range(25)]
        await asyncio.wait_for(load.entered.wait(), 10)  # the load is running: these join it in flight
        late = [asyncio.create_task(cache.get(gen, "t_counts", (), DashboardCounts, load)) for _ in range(25)]
        gate.set()
        results = await asyncio.gather(*first, *late)
        assert load.calls == 1
        assert {r.clients for r in results} == {3}

    _run(services, body)


def test_single_flight_across_processes_through_a_redis_lock(account: Account, services: Services) -> None:
    seed_clients(services.database_url, account.supplier_id, [{"partner1_first": "L"}, {"partner1_first": "M"}])

    class Observed(HotCache):
        waiting = asyncio.Event()

        async def _wait_for_other_process(self, rkey: str, codec: Any) -> Any:
            self.waiting.set()
            return await super()._wait_for_other_process(rkey, codec)

    async def body(first: HotCache, pool: Any, redis: Redis) -> None:
        second = Observed(redis)  # another web process: its own memory, the same Redis
        gate = asyncio.Event()
        load_first, load_second = Counted(pool, account.supplier_id, gate), Counted(pool, account.supplier_id)
        gen = await first.generation(account.supplier_id)
        a = asyncio.create_task(first.get(gen, "t_lock", (), DashboardCounts, load_first))
        await asyncio.wait_for(load_first.entered.wait(), 10)  # the first process holds the lock and is querying
        b = asyncio.create_task(second.get(gen, "t_lock", (), DashboardCounts, load_second))
        await asyncio.wait_for(second.waiting.wait(), 10)  # the second found the lock taken and waits for the value
        gate.set()
        assert ((await a).clients, (await b).clients) == (2, 2)
        assert (load_first.calls, load_second.calls) == (1, 0)

    _run(services, body)


def test_keys_are_per_supplier_and_a_bump_makes_the_next_read_fresh(account: Account, services: Services) -> None:
    other = signup(str(account.client.base_url), services.database_url)
    seed_clients(services.database_url, account.supplier_id, [{"partner1_first": "A"}])
    seed_clients(services.database_url, other.supplier_id, [{"partner1_first": "B"}, {"partner1_first": "C"}])

    async def body(cache: HotCache, pool: Any, redis: Redis) -> None:
        async def counts(sid: int) -> int:
            gen = await cache.generation(sid)
            return (await cache.get(gen, "t_counts", ("same",), DashboardCounts, Counted(pool, sid))).clients

        assert (await counts(account.supplier_id), await counts(other.supplier_id)) == (1, 2)
        _insert_unannounced(services, account.supplier_id, "A2")
        assert await counts(account.supplier_id) == 1  # cached, and nothing told the cache
        await cache.bump(account.supplier_id)
        assert await counts(account.supplier_id) == 2
        assert await counts(other.supplier_id) == 2

        # A second process (another HotCache on the same Redis) sees the bump through the shared generation.
        second = HotCache(redis)
        gen = await second.generation(account.supplier_id)
        assert (await second.get(gen, "t_counts", ("same",), DashboardCounts, Counted(pool, 0))).clients == 2

    _run(services, body)
    other.client.close()


def test_a_scoped_bump_leaves_the_rest_of_the_supplier_cached(account: Account, services: Services) -> None:
    seed_clients(services.database_url, account.supplier_id, [{"partner1_first": "S"}])

    async def body(cache: HotCache, pool: Any, redis: Redis) -> None:
        sid = account.supplier_id
        wide, one, two = Counted(pool, sid), Counted(pool, sid), Counted(pool, sid)

        async def read() -> None:
            gen = await cache.generation(sid)
            await cache.get(gen, "t_wide", (), DashboardCounts, wide)
            for scope, load in (("c:1", one), ("c:2", two)):
                await cache.get(await cache.generation(sid, scope), "t_one", (scope,), DashboardCounts, load)

        await read()
        before = await cache.generation(sid, "c:1")
        await cache.bump(sid, "c:1")
        after = await cache.generation(sid, "c:1")
        assert after.shared == before.shared
        assert after.scoped is not None
        assert before.scoped is not None
        assert after.scoped > before.scoped
        await read()
        assert (wide.calls, one.calls, two.calls) == (1, 2, 1)
        await cache.bump(sid)  # supplier-wide: everything, scoped entries included
        await read()
        assert (wide.calls, one.calls, two.calls) == (2, 3, 2)

    _run(services, body)


def test_generation_never_goes_back_when_redis_loses_it(account: Account, services: Services) -> None:
    async def body(cache: HotCache, pool: Any, redis: Redis) -> None:
        sid = account.supplier_id
        for _ in range(5):
            await cache.bump(sid)
        before = (await cache.generation(sid)).shared
        await redis.delete(GEN_KEY.format(sid))  # as if Redis restarted empty
        after = (await cache.generation(sid)).shared
        assert before is not None
        assert after is not None
        assert after > before

    _run(services, body)


def test_failed_bump_is_replayed_and_reads_skip_redis_until_then(account: Account, services: Services) -> None:
    seed_clients(services.database_url, account.supplier_id, [{"partner1_first": "D"}])

    async def body(cache: HotCache, pool: Any, redis: Redis) -> None:
        sid = account.supplier_id
        gen = await cache.generation(sid)
        assert (await cache.get(gen, "t_counts", (), DashboardCounts, Counted(pool, sid))).clients == 1
        _insert_unannounced(services, sid, "E")
        breaker = cache.guard.breaker
        breaker.failures, breaker.open_until = breaker.threshold, float("inf")  # Redis "down" for this process
        await cache.bump(sid)
        degraded = await cache.generation(sid)
        assert degraded.shared is None
        assert (await cache.get(degraded, "t_counts", (), DashboardCounts, Counted(pool, sid))).clients == 2
        breaker.failures, breaker.open_until = 0, 0.0  # Redis is back: the pending bump goes out first
        back = await cache.generation(sid)
        assert back.shared is not None
        assert gen.shared is not None
        assert back.shared > gen.shared
        # Another process reading the Redis tier gets the post-write value, not the one cached before.
        other = HotCache(redis)
        other_gen = await other.generation(sid)
        assert (await other.get(other_gen, "t_counts", (), DashboardCounts, Counted(pool, sid))).clients == 2

    _run(services, body)


def test_redis_unreachable_serves_memory_briefly_and_postgres_always(account: Account, services: Services) -> None:
    seed_clients(services.database_url, account.supplier_id, [{"partner1_first": "F"}])
    dead_redis = f"redis://127.0.0.1:{free_port()}/0"

    async def body(cache: HotCache, pool: Any, redis: Redis) -> None:
        sid = account.supplier_id
        load = Counted(pool, sid)
        gen = await cache.generation(sid)
        assert gen.degraded
        assert cache.etag(gen, "/clients/") is None  # no 304 promises without the shared generation
        for _ in range(3):
            assert (await cache.get(gen, "t_counts", (), DashboardCounts, load)).clients == 1
        assert load.calls == 1  # within DEGRADED_TTL_S the in-process copy answers
        _insert_unannounced(services, sid, "G")
        await cache.bump(sid)  # the writer's own bump is local and synchronous
        gen = await cache.generation(sid)
        assert (await cache.get(gen, "t_counts", (), DashboardCounts, load)).clients == 2
        assert cache.guard.breaker.is_open

    _run(services, body, redis_url=dead_redis, guard=RedisGuard(breaker=Breaker(threshold=1, cool_down=60)))


# -- through HTTP: two web processes ------------------------------------------------------------------------------
def _csrf(client: httpx.Client, path: str = "/clients/new") -> str:
    match = re.search(r'name="_csrf_token" value="([^"]+)"', client.get(path).text)
    assert match
    return match.group(1)


def _names(html: str) -> list[str]:
    return re.findall(r'<span class="name">([^<]+)</span>', html)


def _count(html: str, testid: str) -> int:
    match = re.search(rf'data-testid="{testid}">(\d+)<', html)
    assert match, testid
    return int(match.group(1))


def _status(html: str) -> str:
    match = re.search(r'data-testid="status">([a-z]+)<', html)
    assert match
    return match.group(1)


def test_writes_are_seen_at_once_by_the_same_and_another_web_process(
    account: Account, services: Services, second: Server
) -> None:
    [cid] = seed_clients(services.database_url, account.supplier_id, [{"partner1_first": "Hana", "status": "lead"}])
    a, b = account.client, same_phone_on(account, second)
    for c in (a, b):  # warm both processes' caches (and Redis)
        for path in ("/", "/clients/", f"/clients/{cid}"):
            assert c.get(path).status_code == 200
    assert _count(b.get("/").text, "client-count") == 1

    # A note written through process A: A and B show it on their next read.
    resp = a.post(f"/clients/{cid}/notes", data={"_csrf_token": _csrf(a), "body": "Confetti at 3pm"})
    assert resp.status_code == 303
    for c in (a, b):
        assert "Confetti at 3pm" in c.get(f"/clients/{cid}").text

    # A status change through process B: both show it, in the detail and in the list.
    resp = b.post(f"/clients/{cid}/status", data={"_csrf_token": _csrf(b), "status": "booked", "version": "1"})
    assert resp.status_code == 303
    for c in (a, b):
        assert _status(c.get(f"/clients/{cid}").text) == "booked"
        assert 'class="badge booked"' in c.get("/clients/", headers={"HX-Request": "true"}).text

    # A new lead through process A: both lists and both dashboards count it.
    resp = a.post("/clients/", data={"_csrf_token": _csrf(a), "partner1_first": "Iris", "partner1_last": "Novak"})
    assert resp.status_code == 303
    for c in (a, b):
        assert "Iris Novak" in _names(c.get("/clients/").text)
        assert _count(c.get("/").text, "client-count") == 2
    b.close()


def test_import_by_the_worker_is_seen_by_both_web_processes(
    account: Account, services: Services, second: Server, worker: subprocess.Popen[bytes], tmp_path: Path
) -> None:
    a, b = account.client, same_phone_on(account, second)
    for c in (a, b):
        assert "No clients yet." in c.get("/clients/").text
        assert 'data-testid="bring-in-clients"' in c.get("/").text  # no clients: the dashboard asks for them
    csv = tmp_path / "couples.csv"
    csv.write_text("First Name,Last Name,Email\nJude,Okafor,jude@example.com\nKit,Moreau,kit@example.com\n")
    done = subprocess.run(
        [sys.executable, "-m", "webapp.cli", "import", "--supplier", account.email, str(csv)],
        env=services.env(),
        cwd=ROOT,
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    for c in (a, b):
        assert sorted(_names(c.get("/clients/").text)) == ["Jude Okafor", "Kit Moreau"]
        assert _count(c.get("/").text, "client-count") == 2
    b.close()


def test_two_suppliers_never_see_each_others_cached_data(account: Account, services: Services, second: Server) -> None:
    other = signup(str(account.client.base_url), services.database_url)
    seed_clients(services.database_url, account.supplier_id, [{"partner1_first": "Lena", "partner1_last": "Smith"}])
    seed_clients(services.database_url, other.supplier_id, [{"partner1_first": "Milo", "partner1_last": "Smith"}])
    twin = same_phone_on(other, second)
    for term in ("smith", "SMITH"):  # the second round is answered from the caches (search ignores case)
        for client, expected in (
            (account.client, ["Lena Smith"]),
            (other.client, ["Milo Smith"]),
            (twin, ["Milo Smith"]),
        ):
            for htmx in (False, True):
                resp = client.get("/clients/", params={"q": term}, headers={"HX-Request": "true"} if htmx else {})
                assert _names(resp.text) == expected
    # The same fragment, the same query string: one supplier's ETag is never the other's.
    mine = account.client.get("/clients/", params={"q": "smith"}, headers={"HX-Request": "true"})
    theirs = other.client.get(
        "/clients/", params={"q": "smith"}, headers={"HX-Request": "true", "If-None-Match": mine.headers["etag"]}
    )
    assert theirs.status_code == 200
    assert _names(theirs.text) == ["Milo Smith"]
    twin.close()
    other.client.close()


def test_fragment_etag_answers_304_until_a_write(account: Account, services: Services) -> None:
    [cid] = seed_clients(services.database_url, account.supplier_id, [{"partner1_first": "Nia", "status": "lead"}])
    htmx = {"HX-Request": "true"}
    first = account.client.get("/clients/", headers=htmx)
    assert first.status_code == 200
    etag = first.headers["etag"]
    assert first.headers["cache-control"] == "private, no-cache"
    again = account.client.get("/clients/", headers={**htmx, "If-None-Match": etag})
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["etag"] == etag
    # A different request (another search) is another ETag.
    other = account.client.get("/clients/", params={"q": "nia"}, headers={**htmx, "If-None-Match": etag})
    assert other.status_code == 200

    # A note changes only that client's page (its route declares cache_scope "client"): the list is still valid.
    assert account.post(f"/clients/{cid}/notes", {"body": "Sparklers at 10"}, htmx=True).status_code == 200
    assert account.client.get("/clients/", headers={**htmx, "If-None-Match": etag}).status_code == 304
    assert "Sparklers at 10" in account.client.get(f"/clients/{cid}").text

    assert account.post(f"/clients/{cid}/status", {"status": "booked", "version": "1"}, htmx=True).status_code == 200
    after = account.client.get("/clients/", headers={**htmx, "If-None-Match": etag})
    assert after.status_code == 200
    assert after.headers["etag"] != etag
    assert 'class="badge booked"' in after.text


def test_cached_list_fragment_is_fresh_after_a_write_and_holds_nothing_of_the_request(
    account: Account, services: Services, second: Server
) -> None:
    """The list fragment's HTML is cached whole (and gzipped once): a repeat is the same bytes from the cache, yet a
    write through either web process shows in both at once, and no phone's CSRF token is ever in it."""
    more = [{"partner1_first": f"Pia{i}", "status": "booked"} for i in range(12)]  # over the 500 B gzip floor
    cid, *_ = seed_clients(
        services.database_url, account.supplier_id, [{"partner1_first": "Ola", "status": "lead"}, *more]
    )
    a, b = account.client, same_phone_on(account, second)
    htmx = {"HX-Request": "true"}
    for c in (a, b):
        first, again = c.get("/clients/", headers=htmx), c.get("/clients/", headers=htmx)
        assert first.headers["content-encoding"] == "gzip"  # stored compressed, sent as such
        assert "accept-encoding" in first.headers["vary"].lower()
        assert again.content == first.content
        assert again.text.count('class="badge lead"') == 1
        plain = c.get("/clients/", headers={**htmx, "Accept-Encoding": "identity"})
        assert "content-encoding" not in plain.headers
        assert plain.text == first.text
        assert "csrf" not in first.text.lower()
        assert _csrf(c) not in first.text

    resp = b.post(f"/clients/{cid}/status", data={"_csrf_token": _csrf(b), "status": "booked", "version": "1"})
    assert resp.status_code == 303
    for c in (a, b):
        assert 'class="badge lead"' not in c.get("/clients/", headers=htmx).text

    # The query is in the markup as typed: "Zed" and "zed" share their rows but not their rendering.
    for term in ("Zed", "zed", "Zed"):
        assert f"No clients match “{term}”" in a.get("/clients/", params={"q": term}, headers=htmx).text
    b.close()


def test_an_unchanged_session_is_rewritten_at_most_once_per_renew_period(services: Services) -> None:
    """Every response rewrites its session; unchanged, that write only moves the expiry, so it is skipped for a
    while. A changed session (sign-in) is always written, and a sign-out elsewhere is always read."""
    from litestar.stores.redis import RedisStore

    from webapp.cache.sessions import FallbackStore

    async def main() -> None:
        namespace = f"wedsync:test-renew-{secrets.token_hex(3)}"
        redis = Redis.from_url(services.redis_url)
        elsewhere = RedisStore(redis, namespace=namespace)
        here = FallbackStore(RedisStore(redis, namespace=namespace), RedisGuard())
        await here.set("phone", b"supplier 21", 3600)
        assert await elsewhere.get("phone") == b"supplier 21"
        await elsewhere.set("phone", b"marker", 60)  # what Redis holds now, to see whether the next write lands
        await here.set("phone", b"supplier 21", 3600)  # unchanged, written moments ago: skipped
        assert await elsewhere.get("phone") == b"marker"
        await here.set("phone", b"supplier 22", 3600)  # changed: written
        assert await elsewhere.get("phone") == b"supplier 22"
        await elsewhere.delete("phone")  # signed out through another process
        assert await here.get("phone") is None
        await here.set("phone", b"supplier 22", 3600)  # after a read that saw the change, written again
        assert await elsewhere.get("phone") == b"supplier 22"
        await redis.aclose()

    asyncio.run(main())


def _lookups(server: Server) -> dict[tuple[str, str], float]:
    text = httpx.get(server.url + "/metrics").text
    values: dict[tuple[str, str], float] = {}
    for family in text_string_to_metric_families(text):
        if family.name == "wedsync_cache_lookups":
            for sample in family.samples:
                if sample.name.endswith("_total"):
                    values[(sample.labels["tier"], sample.labels["result"])] = sample.value
    return values


def test_hit_and_miss_counters_move_in_metrics(account: Account, services: Services, second: Server) -> None:
    seed_clients(services.database_url, account.supplier_id, [{"partner1_first": "Otto"}])
    before = _lookups(second)
    account.client.get("/clients/")  # process A: memory miss, Redis miss, PostgreSQL
    account.client.get("/clients/")  # process A: memory hit
    twin = same_phone_on(account, second)
    twin.get("/clients/")  # process B: memory miss, Redis hit
    after = _lookups(second)  # one scrape sums every process on the machine (multiprocess mode)
    for tier, result in (("memory", "miss"), ("memory", "hit"), ("redis", "miss"), ("redis", "hit")):
        assert after.get((tier, result), 0) > before.get((tier, result), 0), (tier, result)
    twin.close()


def test_sessions_survive_an_open_circuit_and_a_dead_redis(services: Services) -> None:
    from litestar.stores.redis import RedisStore

    from webapp.cache.sessions import FallbackStore

    async def main() -> None:
        redis = Redis.from_url(services.redis_url)
        guard = RedisGuard(breaker=Breaker(threshold=1, cool_down=60))
        elsewhere = RedisStore(redis, namespace="wedsync:test-session")
        here = FallbackStore(RedisStore(redis, namespace="wedsync:test-session"), guard)
        await elsewhere.set("signed-in-elsewhere", b"supplier 7")
        guard.breaker.failure()  # a slow moment opened the circuit
        assert guard.breaker.is_open
        # No copy here: Redis is asked anyway, so the phone is not signed out by a saturated machine.
        assert await here.get("signed-in-elsewhere") == b"supplier 7"
        # A sign-in (a changed session) reaches Redis too, so the phone's next request may go to any process.
        await here.set("signed-in-here", b"supplier 8")
        assert await elsewhere.get("signed-in-here") == b"supplier 8"
        await redis.aclose()

        # Redis gone: sessions this process has served are answered from its copy; the rest are signed out.
        dead = Redis.from_url(f"redis://127.0.0.1:{free_port()}/0", socket_connect_timeout=0.5)
        away = FallbackStore(RedisStore(dead, namespace="wedsync:test-session"), RedisGuard())
        away._local["known"] = b"supplier 9"
        assert await away.get("known") == b"supplier 9"
        assert await away.get("unknown") is None
        await away.set("known", b"supplier 9 renewed")  # every response rewrites the session: no error
        assert await away.get("known") == b"supplier 9 renewed"
        await dead.aclose()

    asyncio.run(main())


def test_a_session_write_that_never_landed_is_not_read_as_a_sign_out(services: Services) -> None:
    """A sign-in whose session write timed out: when Redis answers again it has no such session. That is "not
    written yet", so the phone stays signed in and the write is repeated; a session that did land and was then
    deleted elsewhere (a sign-out in another process) still ends here."""
    from litestar.stores.redis import RedisStore

    from webapp.cache.sessions import FallbackStore

    async def main() -> None:
        namespace = f"wedsync:test-unsynced-{secrets.token_hex(3)}"
        dead = Redis.from_url(f"redis://127.0.0.1:{free_port()}/0", socket_connect_timeout=0.5)
        here = FallbackStore(RedisStore(dead, namespace=namespace), RedisGuard())
        await here.set("signing-in", b"supplier 11", 3600)  # the write fails: kept here only
        live = Redis.from_url(services.redis_url)
        elsewhere = RedisStore(live, namespace=namespace)
        here.inner = RedisStore(live, namespace=namespace)  # Redis is back (empty of that write)
        assert await here.get("signing-in") == b"supplier 11"
        assert await elsewhere.get("signing-in") == b"supplier 11"  # written again, for every process
        assert 0 < (await elsewhere.expires_in("signing-in") or 0) <= 3600

        await here.set("signed-in", b"supplier 12", 3600)  # lands in Redis
        await elsewhere.delete("signed-in")  # signed out through another process
        assert await here.get("signed-in") is None
        await dead.aclose()
        await live.aclose()

    asyncio.run(main())


def test_signing_in_leaves_the_studios_caches_alone(account: Account, services: Services) -> None:
    """A team member signing in writes a session, not supplier data: the studio's generation stays, so every
    phone's cached lists and pages stay valid. A write of supplier data still moves it."""
    key = GEN_KEY.format(account.supplier_id)
    with sync_redis.Redis.from_url(services.redis_url) as r:
        account.client.get("/clients/")
        before = r.get(key)
        assert before is not None
        phone = browser_client(str(account.client.base_url))
        token = csrf_from(phone.get("/login").text)
        form = {"_csrf_token": token, "email": account.email, "password": account.password}
        signed_in = phone.post("/login", data=form)
        assert signed_in.status_code == 303
        assert phone.get("/clients/").status_code == 200
        phone.close()
        assert r.get(key) == before
        lead = account.post("/clients/", {"partner1_first": "Iris", "partner1_last": "Novak"}, csrf_page="/clients/new")
        assert lead.status_code in (200, 303)
        assert r.get(key) != before
