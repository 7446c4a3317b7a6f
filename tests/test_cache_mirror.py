"""Generations known without asking Redis (``webapp.cache.mirror``): two started ``HotCache``s on the session's real
Valkey, as two web processes are, and a write through real HTTP for the browser's floor cookie."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Awaitable, Callable
from typing import Any, cast

from redis.asyncio import Redis

from core.cache_generations import BUMP_SCRIPT, CHANNEL, announced, announced_name, bump_from_worker, bump_keys, now_us
from tests.fixtures import Account, Services, csrf_from, seed_clients, wait_until
from webapp.cache import LISTS, HotCache
from webapp.cache.mirror import FLOOR_COOKIE, GenerationMirror, write_floor


class CountedRedis(Redis):
    """The real client, counting the generation reads (MGET) it sends: how we tell a mirror answer from a read."""

    mgets = 0
    name = ""  # its connections' client name, the subscription's included

    async def execute_command(self, *args: Any, **options: Any) -> Any:
        if args and args[0] == "MGET":
            self.mgets += 1
        return await super().execute_command(*args, **options)  # type: ignore[no-untyped-call]


async def _started(url: str, mirror: GenerationMirror | None = None) -> tuple[HotCache, CountedRedis]:
    name = f"mirror-test-{secrets.token_hex(4)}"
    redis = cast(CountedRedis, CountedRedis.from_url(url, client_name=name))
    redis.name = name
    cache = HotCache(redis)
    if mirror is not None:
        cache.mirror = mirror
    await cache.start()

    await wait_until(lambda: cache.mirror.live, 10, "the cache channel's subscription")
    return cache, redis


async def _unheard_bump(redis: Redis, sid: int, scope: str | None = None) -> tuple[int, int]:
    """A bump whose announcement this test's caches never hear (sent on another channel): a message still in
    flight, or lost. Returns (value, sequence)."""
    keys = bump_keys(sid, scope)
    keys[2] = "wedsync:test:nobody-listens"
    value, seq = await redis.evalsha(
        await redis.script_load(BUMP_SCRIPT), 3, *keys, now_us(), announced_name(sid, scope), "0" if not scope else "60"
    )
    return int(value), int(seq)


Started = Callable[..., Awaitable[tuple[HotCache, CountedRedis]]]


def _run(services: Services, body: Callable[[Started, int], Awaitable[None]]) -> None:
    async def main() -> None:
        caches: list[tuple[HotCache, Redis]] = []

        async def started(mirror: GenerationMirror | None = None) -> tuple[HotCache, CountedRedis]:
            pair = await _started(services.redis_url, mirror)
            caches.append(pair)
            return pair

        try:
            await body(started, 10_000_000 + secrets.randbelow(1_000_000))
        finally:
            for cache, redis in caches:
                await cache.stop()
                await redis.aclose()

    asyncio.run(main())


def test_generations_heard_announced_are_answered_without_redis(services: Services) -> None:
    async def body(started: Started, sid: int) -> None:
        a, _ = await started()
        b, b_redis = await started()
        first = await b.generation(sid, LISTS)
        assert b_redis.mgets == 1
        assert await b.generation(sid, LISTS) == first
        assert b_redis.mgets == 1, "asked Redis for a generation it already knew"

        # A status change in process A: B hears the new "lists" generation, and still asks Redis for nothing.
        await a.bump(sid, LISTS, rows=[7])

        async def heard_lists() -> bool:
            gen = await b.generation(sid, LISTS)
            return gen.scoped is not None and first.scoped is not None and gen.scoped > first.scoped

        await wait_until(heard_lists, 10, "B to hear A's bump")
        # A worker's import batch (the sync bumper, another connection): supplier-wide, B's entries dropped too.
        local = b.local_version(sid)
        await asyncio.to_thread(bump_from_worker, sid)

        async def heard_import() -> bool:
            gen = await b.generation(sid, LISTS)
            return gen.shared is not None and first.shared is not None and gen.shared > first.shared

        await wait_until(heard_import, 10, "B to hear the worker's bump")
        assert b.local_version(sid) > local
        assert b_redis.mgets == 1
        # What B answers from memory is exactly what Redis holds (16-digit values survive the Lua formatting).
        truth = [int(v or 0) for v in await b.redis.mget([f"wedsync:gen:{sid}", f"wedsync:gen:{sid}:{LISTS}"])]
        gen = await b.generation(sid, LISTS)
        assert [gen.shared, gen.scoped] == truth

    _run(services, body)


def test_a_browser_that_wrote_is_answered_at_or_after_its_write(services: Services) -> None:
    async def body(started: Started, sid: int) -> None:
        b, b_redis = await started()
        before = await b.generation(sid, LISTS)
        value, seq = await _unheard_bump(b.redis, sid, LISTS)
        assert await b.generation(sid, LISTS) == before  # not heard yet: as if the request came a moment earlier

        with write_floor((sid + 1, seq)):  # another studio's floor says nothing about this one
            assert await b.generation(sid, LISTS) == before
        reads = b_redis.mgets
        with write_floor((sid, seq)):  # the writer's next request: read from Redis, never the pre-write value
            assert (await b.generation(sid, LISTS)).scoped == value
        assert b_redis.mgets == reads + 1
        # What that read learned serves everyone, and the writer again, from memory.
        assert (await b.generation(sid, LISTS)).scoped == value
        with write_floor((sid, seq)):
            assert (await b.generation(sid, LISTS)).scoped == value
        assert b_redis.mgets == reads + 1

    _run(services, body)


def test_a_lost_announcement_costs_at_most_the_trust_period(services: Services) -> None:
    async def body(started: Started, sid: int) -> None:
        b, _ = await started(GenerationMirror(trust_s=0.5))
        before = await b.generation(sid)
        value, _ = await _unheard_bump(b.redis, sid)
        assert (await b.generation(sid)).shared == before.shared
        lost_at = time.monotonic()

        async def fresh() -> bool:
            return (await b.generation(sid)).shared == value

        await wait_until(fresh, 5, "the unheard value to be forgotten")
        assert time.monotonic() - lost_at < 2

    _run(services, body)


def test_a_dropped_subscription_forgets_everything_until_it_is_back(services: Services) -> None:
    async def body(started: Started, sid: int) -> None:
        b, b_redis = await started()
        before = await b.generation(sid, LISTS)
        value, _ = await _unheard_bump(b.redis, sid, LISTS)  # missed while the connection was going down
        epoch = b.mirror.epoch
        [subscription] = [c for c in await b.redis.client_list(_type="pubsub") if c.get("name") == b_redis.name]
        await b.redis.client_kill_filter(_id=subscription["id"])

        async def back() -> bool:
            return b.mirror.live and b.mirror.epoch >= epoch + 2  # down, then subscribed again

        await wait_until(back, 10, "the subscription to come back")
        reads = b_redis.mgets
        gen = await b.generation(sid, LISTS)
        assert b_redis.mgets == reads + 1  # nothing kept across the gap: read again
        assert gen.scoped == value
        assert before.scoped is not None
        assert value > before.scoped

    _run(services, body)


def test_a_bump_announced_without_its_value_is_read_again(services: Services) -> None:
    async def body(started: Started, sid: int) -> None:
        b, b_redis = await started()
        await b.generation(sid)
        value, _ = await _unheard_bump(b.redis, sid)
        await b.redis.publish(CHANNEL, str(sid))  # what a worker of the previous release announces

        async def fresh() -> bool:
            return (await b.generation(sid)).shared == value

        await wait_until(fresh, 3, "the bare announcement to be heard")  # well inside TRUST_S
        assert b_redis.mgets == 2

    _run(services, body)


def test_the_announcement_format_and_the_previous_releases_bare_id() -> None:
    assert announced(b"42 1764780000000001 1764780000000007") == (42, None, 1764780000000001, 1764780000000007)
    assert announced(b"42:c:9 5 6") == (42, "c:9", 5, 6)
    assert announced(b"42:lists 5 6") == (42, "lists", 5, 6)
    assert announced(b"42") == (42, None, None, None)  # a worker of the previous release: supplier-wide
    for junk in (b"", b"x", b"42 5", b"42 a b", b"-1 5 6", b"\xff\xfe"):
        assert announced(junk) is None


def test_a_write_sets_the_floor_cookie_and_a_read_does_not(account: Account, services: Services) -> None:
    [cid] = seed_clients(services.database_url, account.supplier_id, [{"partner1_first": "Floor"}])
    phone = account.client
    page = phone.get(f"/clients/{cid}")
    assert FLOOR_COOKIE not in page.headers.get("set-cookie", "")
    resp = phone.post(
        f"/clients/{cid}/status", data={"_csrf_token": csrf_from(page.text), "status": "booked", "version": "1"}
    )
    assert resp.status_code == 303
    [cookie] = [c for c in resp.headers.get_list("set-cookie") if c.startswith(FLOOR_COOKIE + "=")]
    value, *attributes = [part.strip() for part in cookie.split(";")]
    sid, _, seq = value.removeprefix(FLOOR_COOKIE + "=").partition(".")
    assert int(sid) == account.supplier_id
    assert int(seq) > 0
    assert {"HttpOnly", "SameSite=Lax", "Max-Age=60", "Path=/"} <= set(attributes)
    # The next read carries it and shows the write.
    assert phone.cookies.get(FLOOR_COOKIE) == value.removeprefix(FLOOR_COOKIE + "=")
    assert 'class="badge booked"' in phone.get("/clients/", headers={"HX-Request": "true"}).text
