"""Redis goes away under a running web process: pages keep answering from memory and PostgreSQL, no 5xx, and a
write is visible on the very next read."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from core.embedded import EmbeddedValkey
from tests.fixtures import Account, Server, Services, seed_clients, signup, start_web, stop_process


@pytest.fixture
def lonely(services: Services, tmp_path: Path) -> Iterator[tuple[Server, EmbeddedValkey]]:
    """A web server on its own Valkey, which the test stops (PostgreSQL stays shared)."""
    valkey = EmbeddedValkey(tmp_path / "valkey")
    valkey.start()
    srv = start_web(services, REDIS_URL=valkey.url)
    try:
        yield srv, valkey
    finally:
        stop_process(srv.process)
        valkey.stop()


def _csrf(account: Account, path: str) -> str:
    resp = account.client.get(path)
    assert resp.status_code == 200
    match = re.search(r'name="_csrf_token" value="([^"]+)"', resp.text)
    assert match
    return match.group(1)


def _cache_errors(server: Server) -> float:
    text = httpx.get(server.url + "/metrics").text
    return sum(
        s.value
        for family in text_string_to_metric_families(text)
        if family.name == "wedsync_cache_errors"
        for s in family.samples
        if s.name.endswith("_total")
    )


def test_pages_answer_and_stay_fresh_with_redis_stopped(
    lonely: tuple[Server, EmbeddedValkey], services: Services
) -> None:
    server, valkey = lonely
    account = signup(server.url, services.database_url)
    [cid] = seed_clients(services.database_url, account.supplier_id, [{"partner1_first": "Pia", "status": "lead"}])
    c = account.client
    pages = ("/", "/clients/", "/clients/?q=pia", f"/clients/{cid}", "/integrations/")
    for path in pages:  # warm every tier while Redis is up
        assert c.get(path).status_code == 200
    errors_before = _cache_errors(server)

    valkey.stop()

    statuses = []
    for path in pages:
        resp = c.get(path)
        statuses.append(resp.status_code)
        assert "Pia" in resp.text or path in ("/", "/integrations/"), path
    assert re.search(r'data-testid="client-count">1<', c.get("/").text)
    fragment = c.get("/clients/", headers={"HX-Request": "true"})
    assert fragment.status_code == 200
    assert "etag" not in fragment.headers  # no 304 promise without the shared generation

    # Writes (PostgreSQL only) and the very next reads, in this process, are fresh.
    resp = c.post(f"/clients/{cid}/notes", data={"_csrf_token": _csrf(account, f"/clients/{cid}"), "body": "Rain plan"})
    statuses.append(resp.status_code)
    assert "Rain plan" in c.get(f"/clients/{cid}").text
    token = _csrf(account, f"/clients/{cid}")
    resp = c.post(f"/clients/{cid}/status", data={"_csrf_token": token, "status": "booked", "version": "1"})
    statuses.append(resp.status_code)
    assert 'data-testid="status">booked<' in c.get(f"/clients/{cid}").text
    assert 'class="badge booked"' in c.get("/clients/", headers={"HX-Request": "true"}).text
    token = _csrf(account, "/clients/new")
    resp = c.post("/clients/", data={"_csrf_token": token, "partner1_first": "Quinn", "partner1_last": "Ash"})
    statuses.append(resp.status_code)
    assert "Quinn Ash" in c.get("/clients/").text
    assert re.search(r'data-testid="client-count">2<', c.get("/").text)

    assert all(s < 500 for s in statuses), statuses
    assert _cache_errors(server) > errors_before  # the failures were counted, not raised
    account.client.close()
