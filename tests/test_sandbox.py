from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import msgspec
import pytest

from jobs.sandbox import SandboxConfig, running_sandbox
from tests.fixtures import wait_for

KEY = {"X-API-KEY": "sandbox-key"}


@pytest.fixture(scope="module")
def sandbox() -> Iterator[str]:
    with running_sandbox(SandboxConfig(seed=7, size=250)) as url:
        yield url


def _get(url: str, path: str, **params: Any) -> httpx.Response:
    return httpx.get(f"{url}{path}", params=params, headers=KEY)


def test_requires_api_key(sandbox: str) -> None:
    missing = httpx.get(f"{sandbox}/v2/job")
    wrong = httpx.get(f"{sandbox}/v2/job", headers={"X-API-KEY": "nope"})
    assert missing.status_code == wrong.status_code == 401
    assert missing.json() == {
        "type": "unknown",
        "title": "Unauthorized",
        "detail": "API key is missing or invalid.",
        "status": 401,
    }
    assert _get(sandbox, "/v2/job").status_code == 200


def test_pages_cover_every_job_exactly_once(sandbox: str) -> None:
    ids: list[str] = []
    first = _get(sandbox, "/v2/job", page=1, pageSize=100).json()
    assert first["type"] == "job-collection"
    assert first["meta"] == {"currentPage": 1, "totalPages": 3, "totalItems": 250, "rows": 100}
    for page in (1, 2, 3):
        ids += [job["id"] for job in _get(sandbox, "/v2/job", page=page, pageSize=100).json()["items"]]
    assert len(ids) == len(set(ids)) == 250
    assert ids == sorted(ids), "default order is id ascending, like ULIDs by creation"
    assert _get(sandbox, "/v2/job", page=4, pageSize=100).json()["items"] == []
    # Contacts under both names; a collection the API doesn't have is not found.
    assert _get(sandbox, "/v2/person", page=2).json() == _get(sandbox, "/v2/address-book", page=2).json()
    assert _get(sandbox, "/v2/invoice").status_code == 404


@pytest.mark.parametrize("size", ["9", "101", "abc"])
def test_page_size_outside_10_to_100_is_a_validation_error(sandbox: str, size: str) -> None:
    response = _get(sandbox, "/v2/job", pageSize=size)
    assert response.status_code == 400
    assert response.json()["type"] == "validation-error"
    assert "pageSize" in response.json()["detail"]


def test_job_contacts_link_two_people_per_job_with_client_flag(sandbox: str) -> None:
    job = _get(sandbox, "/v2/job", pageSize=10).json()["items"][0]
    links = _get(sandbox, "/v2/job-contact", jobId=job["id"]).json()["items"]
    assert [link["jobId"] for link in links] == [job["id"], job["id"]]
    assert links[0]["client"] is True
    for link in links:
        person = _get(sandbox, f"/v2/address-book/{link['contactId']}").json()
        assert person["kind"] == "person"
        assert person["id"] == link["contactId"]
        assert _get(sandbox, f"/v2/person/{link['contactId']}").json() == person
    assert _get(sandbox, f"/v2/job/{job['id']}").json() == job
    assert _get(sandbox, "/v2/job/01h35ccwymj5ctckp8px1azhg6").status_code == 404


def test_same_seed_same_data_other_seed_other_data() -> None:
    pages = []
    for seed in (3, 3, 4):
        with running_sandbox(SandboxConfig(seed=seed, size=50)) as url:
            pages.append([_get(url, p, page=2, pageSize=20).json() for p in ("/v2/job", "/v2/address-book")])
    assert pages[0] == pages[1]
    assert pages[0] != pages[2]


def test_data_is_messy_like_real_crms() -> None:
    with running_sandbox(SandboxConfig(seed=1, size=2000)) as url:
        people = [
            p for page in range(1, 41) for p in _get(url, "/v2/address-book", page=page, pageSize=100).json()["items"]
        ]
        jobs = [j for page in range(1, 21) for j in _get(url, "/v2/job", page=page, pageSize=100).json()["items"]]
    emails = [p["email"] for p in people if p["email"]]
    phones = [p["cellPhone"]["formatted"] for p in people if p["cellPhone"]]
    assert any(e != e.strip() for e in emails)
    assert any(e != e.lower() for e in emails)
    assert 0.002 < sum("@" not in e or e.endswith("@") or "@@" in e for e in emails) / len(emails) < 0.03
    assert any(p.startswith("020") for p in phones)
    assert any(p.startswith("+1 (") for p in phones)
    assert any(" x" in p for p in phones)
    assert any(not n.isascii() for p in people for n in (p["firstName"], p["lastName"]))
    types = {j["jobTypeName"] for j in jobs}
    assert "Wedding" in types
    assert types & {"Family Portrait", "Headshots", "Newborn Session"}
    assert {j["stage"] for j in jobs} == {"lead", "booked", "fulfillment", "completed"}
    years = {int(j["eventDate"][:4]) for j in jobs}
    assert min(years) == 2024
    assert max(years) == 2028


def test_touch_moves_records_to_the_head_sharing_timestamps() -> None:
    with running_sandbox(SandboxConfig(size=100, touch_share=3)) as url:
        touched = httpx.post(f"{url}/_sandbox/touch", json={"count": 5}).json()["touched"]
        stamps = [t["modified"] for t in touched]
        assert stamps[0] == stamps[1] == stamps[2] < stamps[3] == stamps[4]
        head = _get(url, "/v2/job", sortBy="modified desc", pageSize=10).json()["items"]
        assert {j["id"] for j in head[:5]} == {t["id"] for t in touched}
        assert [j["modified"] for j in head] == sorted((j["modified"] for j in head), reverse=True)
        # The separate sortDirection spelling gives the same order.
        same = _get(url, "/v2/job", sortBy="modified", sortDirection="desc", pageSize=10).json()["items"]
        assert same == head
        # Every job still appears exactly once in modified order.
        all_ids = [
            j["id"]
            for p in (1, 2)
            for j in _get(url, "/v2/job", sortBy="modified desc", page=p, pageSize=50).json()["items"]
        ]
        assert len(set(all_ids)) == 100


def test_faults_and_stats(sandbox: str) -> None:
    httpx.delete(f"{sandbox}/_sandbox/stats")
    httpx.post(
        f"{sandbox}/_sandbox/faults",
        json={"rate_limit_next": 1, "retry_after": "3", "error_next": 1, "error_status": 502},
    ).raise_for_status()
    limited = _get(sandbox, "/v2/job")
    failed = _get(sandbox, "/v2/job")
    ok = _get(sandbox, "/v2/job")
    assert (limited.status_code, limited.headers["retry-after"], limited.json()["type"]) == (429, "3", "quota-limit")
    assert failed.status_code == 502
    assert ok.status_code == 200
    assert httpx.get(f"{sandbox}/_sandbox/stats").json()["endpoints"]["GET /v2/job"] == {"429": 1, "502": 1, "200": 1}
    bad = httpx.post(f"{sandbox}/_sandbox/faults", json={"rate_limit_nxt": 1})
    assert bad.status_code == 400
    httpx.post(f"{sandbox}/_sandbox/faults", json={}).raise_for_status()


def test_lightblue_receiver_refuses_duplicate_id(sandbox: str) -> None:
    form = {"key": "sandbox-key", "type": "contact form", "ContactNameFirst": "Aoife", "ID": "t-1", "Source": "tests"}
    assert httpx.post(f"{sandbox}/api.php", data=form).text == "0"
    assert httpx.post(f"{sandbox}/api.php", data=form).text.splitlines()[0] == "-4"
    assert httpx.post(f"{sandbox}/api.php", data=form | {"Source": "other"}).text == "0"
    assert httpx.post(f"{sandbox}/api.php", data=form | {"type": "order"}).text.startswith("-3")
    assert httpx.post(f"{sandbox}/api.php", data=form | {"key": "wrong"}).text.startswith("-1")
    contacts = httpx.get(f"{sandbox}/_sandbox/lightblue/contacts").json()["contacts"]
    assert [c["ContactNameFirst"] for c in contacts if c.get("ID") == "t-1"] == ["Aoife", "Aoife"]
    assert all("key" not in c for c in contacts)


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def test_million_client_sandbox_serves_deep_pages_fast_in_bounded_memory() -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, "-m", "jobs.sandbox", "--size", "1000000", "--port", str(port)],
        cwd=Path(__file__).resolve().parents[1],
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    url = f"http://127.0.0.1:{port}"
    try:

        def up() -> bool:
            if proc.poll() is not None:
                raise AssertionError("the sandbox exited during start-up")
            try:
                return httpx.get(f"{url}/_sandbox/health").status_code == 200
            except httpx.TransportError:
                return False

        wait_for(up, 20, "the sandbox to answer")
        with httpx.Client(base_url=url, headers=KEY) as client:
            client.get("/v2/job", params={"page": 1})
            before = _rss_kib(proc.pid)
            timings = []
            for page in (9000, 9001, 5000, 10000):
                start = time.perf_counter()
                body = client.get("/v2/job", params={"page": page, "pageSize": 100}).json()
                timings.append(time.perf_counter() - start)
                assert len(body["items"]) == 100
                assert body["meta"]["totalItems"] == 1_000_000
            people = client.get("/v2/address-book", params={"page": 19_999, "pageSize": 100}).json()
            assert len(people["items"]) == 100
            after = _rss_kib(proc.pid)
        assert min(timings) < 0.25, timings
        # Serving deep pages must not grow memory with the studio size (1M jobs would be GBs).
        assert after - before < 30_000, (before, after)
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_preloaded_records_are_the_bytes_a_live_render_gives() -> None:
    from jobs.sandbox.world import Kind, Order, World

    world = World(SandboxConfig(seed=5, size=300))
    kinds: tuple[Kind, ...] = ("job", "person", "jobcontact", "event")
    orders: tuple[Order, ...] = ("id_asc", "id_desc", "mod_desc", "mod_asc")

    def same() -> None:
        for kind in kinds:
            for order in orders:
                for page in (1, 2, 4, 7):
                    items, total = world.page(kind, order, page, 100)
                    encoded, encoded_total = world.page_bytes(kind, order, page, 100)
                    assert encoded_total == total
                    assert encoded == [msgspec.json.encode(item) for item in items], (kind, order, page)

    same()
    # Touched and inserted jobs are rendered live, so their new modified stamp (and place) shows.
    world.touch(7, reuse_latest=False)
    world.insert_head(3)
    same()
