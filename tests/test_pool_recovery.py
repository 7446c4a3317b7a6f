"""PostgreSQL restarts under a running web server: pages fail fast while it is down and work again once it is
back, without restarting the web process (psycopg_pool's ``check`` drops the dead connections and reconnects).

Uses its own embedded PostgreSQL, so stopping it cannot disturb the session's database."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest

from core.db.migrate import migrate
from core.embedded import EmbeddedPostgres
from tests.fixtures import Account, Server, Services, signup, start_web, stop_process, wait_for


@pytest.fixture
def own_postgres(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedPostgres]:
    pg = EmbeddedPostgres(tmp_path_factory.mktemp("restart") / "postgres")
    pg.start()
    try:
        migrate(pg.url)
        yield pg
    finally:
        pg.stop()


@pytest.fixture
def web_on_own_postgres(services: Services, own_postgres: EmbeddedPostgres) -> Iterator[Server]:
    server = start_web(services, DATABASE_URL=own_postgres.url, DB_POOL_MIN="2", DB_POOL_MAX="4")
    try:
        yield server
    finally:
        stop_process(server.process)


def test_requests_recover_after_postgres_restart(own_postgres: EmbeddedPostgres, web_on_own_postgres: Server) -> None:
    account: Account = signup(web_on_own_postgres.url, own_postgres.url)
    # The imports page always reads PostgreSQL (the clients list may be answered from the cache).
    assert account.client.get("/jobs/").status_code == 200
    pid = web_on_own_postgres.process.pid

    port = own_postgres.port
    own_postgres.stop()
    # While it is down: an error page well within the pool's 5 s wait (psycopg_pool's default is 30 s).
    started = time.monotonic()
    down = account.client.get("/jobs/", timeout=15)
    assert down.status_code == 503
    assert "reach its database right now. Try again in a minute." in down.text
    assert down.headers["retry-after"] == "30"
    assert time.monotonic() - started < 7
    health = httpx.get(web_on_own_postgres.url + "/health", timeout=5)
    assert health.status_code == 503
    assert not health.json()["postgres"]["ok"]

    own_postgres.start(port=port)

    def page_works() -> bool:
        return account.client.get("/jobs/", timeout=15).status_code == 200

    # The pool's reconnect attempts back off (1 s, 2 s, 4 s, …): allow a few rounds.
    wait_for(page_works, 45, "the imports page to work again after the restart")
    assert web_on_own_postgres.process.poll() is None
    assert web_on_own_postgres.process.pid == pid  # the same process: no restart was needed
    wait_for(lambda: httpx.get(web_on_own_postgres.url + "/health", timeout=5).json()["postgres"]["ok"], 20, "health")
    # Writes work too, on fresh connections that have the role and statement timeout set up again.
    resp = account.post("/clients/", {"partner1_first": "Ada", "partner1_last": "Back", "idempotency_key": "k" * 16})
    assert resp.status_code in (200, 303), resp.text[:300]
