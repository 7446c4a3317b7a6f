"""Sessions answered from each web process's trusted copy: no Redis round trip for an unchanged session, a sign-out
that reaches every process at once, no session brought back by a request that was in flight, and one Redis round
trip for every generation a cached page needs (counted on the real Valkey with MONITOR)."""

from __future__ import annotations

import asyncio
import re
import secrets
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import redis as sync_redis
from litestar.stores.redis import RedisStore
from redis.asyncio import Redis

from tests.fixtures import Account, Server, Services, free_port, same_phone_on, seed_clients, wait_for
from webapp.cache.guard import RedisGuard
from webapp.cache.sessions import TRUST_S, FallbackStore

HTMX = {"HX-Request": "true"}


@contextmanager
def monitored(redis_url: str) -> Iterator[list[str]]:
    """Every command the Redis server receives inside the block (MONITOR), as "NAME arg arg …" lines. The list is
    filled when the block ends: an ECHO marks the end, so nothing sent before it is missed."""
    commands: list[str] = []
    client = sync_redis.Redis.from_url(redis_url)
    with client.monitor() as monitor:
        yield commands
        marker = f"monitor-end-{secrets.token_hex(4)}"
        client.echo(marker)
        while True:
            line = str(monitor.next_command()["command"])
            if marker in line:
                break
            commands.append(line)
    client.close()


def _session_id(phone: httpx.Client) -> str:
    found = re.search(r"wedsync_session=([0-9a-f]+)", phone.headers.get("cookie", ""))
    assert found, "the phone has no session cookie"
    return found.group(1)


def test_an_unchanged_session_costs_no_redis_round_trip_and_a_sign_out_reaches_every_process(
    account: Account, services: Services, second: Server
) -> None:
    twin = same_phone_on(account, second)  # the same phone, its next requests load-balanced to process B
    session_id = _session_id(twin)
    for _ in range(2):  # B reads the session from Redis once and renews it once
        assert twin.get("/clients/", headers=HTMX).status_code == 200
    with monitored(services.redis_url) as commands:
        for _ in range(3):
            assert twin.get("/clients/", headers=HTMX).status_code == 200
    assert not [c for c in commands if session_id in c], "an unchanged session was read or written in Redis"

    # Signing out through process A ends the session in B as soon as Redis delivers the news: well before B's copy
    # would have aged out (TRUST_S), so it is the message that ended it.
    assert account.post("/logout", {}).status_code == 303
    wait_for(lambda: twin.get("/clients/").status_code in (302, 303, 307), TRUST_S / 6, "process B to see the sign-out")
    with sync_redis.Redis.from_url(services.redis_url) as r:
        assert r.exists(f"wedsync:session:{session_id}") == 0  # and B's answers did not write it back
    twin.close()


def test_a_cached_page_asks_redis_for_nothing(account: Account, services: Services) -> None:
    seed_clients(services.database_url, account.supplier_id, [{"partner1_first": "Ines"}, {"partner1_first": "Ivo"}])
    for _ in range(2):  # cached in this process, its session trusted, its generations read or heard
        assert account.client.get("/clients/", headers=HTMX).status_code == 200
    with monitored(services.redis_url) as commands:
        assert account.client.get("/clients/", headers=HTMX).status_code == 200
    # The session is this process's trusted copy and the generations those it heard announced (webapp.cache.mirror).
    sid = account.supplier_id
    mine = (f"wedsync:gen:{sid}", f"wedsync:genseq:{sid}", f"wedsync:cache:{sid}:", "wedsync:session:")
    assert not [c for c in commands if any(key in c for key in mine)], commands


def test_a_request_in_flight_during_a_sign_out_cannot_bring_the_session_back(services: Services) -> None:
    async def main() -> None:
        namespace = f"wedsync:test-resurrect-{secrets.token_hex(3)}"
        redis = Redis.from_url(services.redis_url)
        truth = RedisStore(redis, namespace=namespace)
        a = FallbackStore(RedisStore(redis, namespace=namespace), RedisGuard())
        b = FallbackStore(RedisStore(redis, namespace=namespace), RedisGuard())
        await a.start(redis)
        await b.start(redis)
        try:
            # Across processes: B read the session for a request; the phone signs out through A; B then answers.
            await a.set("phone", b'{"supplier_id":5}', 3600)
            loaded = await b.get("phone")
            assert loaded is not None
            await a.delete("phone")
            await b.update("phone", loaded, 3600)
            assert await truth.get("phone") is None
            assert await b.get("phone") is None

            # In one process: two tabs, one signs out while the other's request is still being answered.
            await a.set("tab", b'{"supplier_id":6}', 3600)
            loaded = await a.get("tab")
            assert loaded is not None
            await a.delete("tab")
            await a.update("tab", loaded, 3600)
            await a.set("tab", loaded, 3600)  # even a create: an id that ended is never written again here
            assert await truth.get("tab") is None
            assert await a.get("tab") is None

            # Redis away while a renewal is written, and the session ended elsewhere meanwhile: when Redis answers
            # again the session is gone, not written back as a sign-in that never landed would be.
            await a.set("blip", b'{"supplier_id":9}', 3600)
            loaded = await a.get("blip")
            assert loaded is not None
            cut_off = FallbackStore(
                RedisStore(Redis.from_url(f"redis://127.0.0.1:{free_port()}/0"), namespace=namespace), RedisGuard()
            )
            cut_off._local["blip"] = loaded
            await cut_off.update("blip", loaded, 3600)  # does not land
            await truth.delete("blip")  # signed out through a process this one could not hear
            cut_off.inner = RedisStore(redis, namespace=namespace)  # Redis is back
            assert await cut_off.get("blip") is None
            assert await truth.get("blip") is None

            # A session that still exists is renewed as before.
            await a.set("kept", b'{"supplier_id":7}', 60)
            await b.update("kept", b'{"supplier_id":7}', 3600)
            assert 60 < (await truth.expires_in("kept") or 0) <= 3600
        finally:
            await a.stop()
            await b.stop()
            await redis.aclose()

    asyncio.run(main())


def test_copies_are_not_trusted_while_the_sign_out_channel_is_down(services: Services) -> None:
    """A process whose subscription dropped may have missed a sign-out: it reads sessions from Redis again until it
    is subscribed again."""

    async def main() -> None:
        namespace = f"wedsync:test-channel-{secrets.token_hex(3)}"
        name = f"sessions-{secrets.token_hex(3)}"
        redis = Redis.from_url(services.redis_url, client_name=name)
        admin = Redis.from_url(services.redis_url)
        truth = RedisStore(admin, namespace=namespace)
        here = FallbackStore(RedisStore(redis, namespace=namespace), RedisGuard())
        await here.start(redis)
        try:
            assert here.listening
            await truth.set("phone", b'{"supplier_id":8}', 3600)
            assert await here.get("phone") is not None  # now trusted
            await truth.delete("phone")  # ended behind its back, without the message: the copy still answers
            assert await here.get("phone") is not None

            # The subscription's connection is cut, as a Redis restart or a network error would cut it.
            for client in await admin.client_list():
                if client.get("name") == name and int(client.get("sub", 0)) > 0:
                    await admin.client_kill_filter(_id=client["id"])
            await asyncio.wait_for(here.wait_listening(False), 10)  # the lost subscription is noticed
            assert await here.get("phone") is None  # read from Redis: the sign-out is seen
            await asyncio.wait_for(here.wait_listening(True), 15)  # and it comes back by itself
            assert here.listening
        finally:
            await here.stop()
            await redis.aclose()
            await admin.aclose()

    asyncio.run(main())
