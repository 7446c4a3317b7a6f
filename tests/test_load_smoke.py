"""The load generator (``bench/load.py``) at a tiny size for a few seconds against a real web server: every
route of the phone mix is exercised, answers as a phone expects, and nothing answers 5xx."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bench import load
from bench.server import running_hello
from tests.fixtures import Server, Services, start_web, stop_process


@pytest.fixture(scope="module")
def web(services: Services) -> Iterator[Server]:
    # Its own server: the phones sign in with real logins, more than the session server's 10 a minute allow.
    srv = start_web(services, LOGIN_ATTEMPTS_PER_MINUTE="1000")
    try:
        yield srv
    finally:
        stop_process(srv.process)


def test_every_route_of_the_mix_answers_and_nothing_fails(web: Server, services: Services) -> None:
    tenants, jars, _ = load.make_tenants(web.url, services.database_url, suppliers=2, clients=120, million=400)
    assert [t.million for t in tenants] == [False, False, True]
    assert tenants[-1].seeded.clients == 400

    async def go() -> tuple[load.Stats, load.Stats]:
        phones = await load.open_phones(web.url, tenants, jars, phones=8)  # 3 sign-ups + 5 real logins
        try:
            mix = await load.run_mix(phones, load.MIX, seconds=4, think_s=0.02)
            rps = await load.run_list_rps(phones, seconds=1, connections=4)  # raw sockets
            await load.visit_working_set(phones)
            steady = await load.run_mix(phones, load.STEADY, seconds=2, think_s=0.02, actions=load.STEADY_ACTIONS)
            assert steady.errors() == 0, steady.statuses
            assert {"list", "list_more", "detail", "search"} <= set(steady.statuses), steady.statuses
        finally:
            await load.close_phones(phones)
        return mix, rps

    mix, rps = load.run_async(go())
    assert mix.errors() == 0, mix.statuses
    assert rps.errors() == 0, rps.statuses
    expected = {
        "list": {200}, "list_more": {200}, "detail": {200}, "search": {200},
        "note": {200}, "status": {200, 409}, "progress": {200, 304},
    }  # fmt: skip
    for route, allowed in expected.items():
        seen = set(mix.statuses.get(route, {}))
        assert seen, f"the mix never sent {route}"
        assert seen <= allowed, f"{route} answered {mix.statuses[route]}"
    assert set(mix.statuses["status"]) & {200}, "no status change went through"
    assert set(mix.statuses["progress"]) & {304}, "polls were never conditional"
    assert any(route.startswith("million_") for route in mix.statuses), "the big studio's phones sent nothing"
    assert set(rps.statuses["list"]) == {200}, rps.statuses  # the raw client reads every answer whole


def test_the_framework_floor_is_measured_beside_the_list_on_a_port_the_server_picked(
    web: Server, services: Services
) -> None:
    """``list_fragment_vs_framework``'s rounds at a tiny size: the hello-world is started on port 0 and reports its
    port, answers every request, and the list's share of it is a real ratio."""
    tenants, jars, _ = load.make_tenants(web.url, services.database_url, suppliers=1, clients=100, million=100)
    with running_hello(1) as (hello_url, port, hello):
        assert port > 0
        assert hello_url.endswith(f":{port}")

        async def go() -> list[load.FrameworkRound]:
            phones = await load.open_phones(web.url, tenants, jars, phones=2)
            try:
                return await load.run_framework(load.Web(web.url, web.process), hello_url, hello.pid, phones, 0.5)
            finally:
                await load.close_phones(phones)

        rounds = load.run_async(go())
    assert len(rounds) == load.FRAMEWORK_ROUNDS
    for round_ in rounds:
        assert round_.list_rps > 0, round_
        assert round_.hello_rps > 0, round_
        assert 0 < round_.ratio < 10, round_
        assert round_.hello_cpu_ms > 0, round_
        assert round_.list_cpu_ms > 0, round_


def test_metrics_parsing_reports_null_without_the_cache_metric() -> None:
    assert load.cache_ratio("", "wedsync_requests_total 1.0\n") is None
    before = 'wedsync_cache_lookups_total{tier="memory",result="hit"} 10.0\n'
    after = (
        'wedsync_cache_lookups_total{tier="memory",result="hit"} 100.0\n'
        'wedsync_cache_lookups_total{tier="memory",result="miss"} 10.0\n'
        'wedsync_cache_lookups_total{tier="redis",result="hit"} 8.0\n'
        'wedsync_cache_lookups_total{tier="redis",result="miss"} 2.0\n'
    )
    ratio = load.cache_ratio(before, after)
    assert ratio is not None
    assert ratio["memory"] == 0.9  # 90 hits, 10 misses in the window
    assert ratio["redis"] == 0.8
    assert ratio["overall"] == 0.98  # 2 of 100 reads reached PostgreSQL


def test_histogram_quantiles_between_two_scrapes() -> None:
    def scrape(counts: dict[str, int]) -> str:
        return "".join(f'wedsync_event_loop_lag_seconds_bucket{{le="{le}"}} {n}.0\n' for le, n in counts.items())

    before = scrape({"0.001": 10, "0.01": 10, "0.1": 10, "+Inf": 10})
    after = scrape({"0.001": 108, "0.01": 109, "0.1": 110, "+Inf": 110})  # 100 ticks: 98 fast, one 10 ms, one 100
    lag = "wedsync_event_loop_lag_seconds"
    assert load.histogram_ms(before, after, lag, 0.5) == 1.0
    assert load.histogram_ms(before, after, lag, 0.99) == 10.0
    assert load.histogram_ms(before, after, lag, 1.0) == 100.0
    assert load.histogram_ms(after, after, lag, 0.99) is None  # nothing observed in between
