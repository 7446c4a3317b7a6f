from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from core.providers import ProviderError
from core.providers.tave import TaveClient, TaveCursor, TavePage, is_wedding_job
from jobs.sandbox import SandboxConfig, running_sandbox

KEY = "sandbox-key"


@pytest.fixture
def sandbox() -> Iterator[str]:
    with running_sandbox(SandboxConfig(seed=11, size=250)) as url:
        yield url


def _client(url: str, **kwargs: Any) -> TaveClient:
    return TaveClient(f"{url}/v2", KEY, sleep=lambda _: None, allow_local=True, **kwargs)


def _listed_jobs(url: str, **params: Any) -> list[dict[str, Any]]:
    jobs: list[dict[str, Any]] = []
    page = 1
    while True:
        body = httpx.get(
            f"{url}/v2/job", params={"page": page, "pageSize": 100, **params}, headers={"X-API-KEY": KEY}
        ).json()
        jobs += body["items"]
        if page >= body["meta"]["totalPages"]:
            return jobs
        page += 1


def _ids(pages: list[TavePage]) -> list[str]:
    return [c.external_id for p in pages for c in p.couples] + [i for p in pages for i in p.skipped_ids]


def _touch(url: str, **body: Any) -> list[str]:
    touched = httpx.post(f"{url}/_sandbox/touch", json=body).json()["touched"]
    return [t["id"] for t in touched]


def test_full_import_yields_every_wedding_once_as_a_couple(sandbox: str) -> None:
    pages = list(_client(sandbox).iter_couples())
    jobs = {j["id"]: j for j in _listed_jobs(sandbox)}
    ids = _ids(pages)
    assert len(ids) == len(set(ids))
    assert set(ids) == set(jobs)
    assert [p.page for p in pages] == [1, 2, 3]
    assert pages[-1].is_last
    assert pages[-1].cursor is not None
    assert all(p.cursor is None for p in pages[:-1])
    skipped = [i for p in pages for i in p.skipped_ids]
    assert skipped
    assert all(not is_wedding_job(jobs[i]["jobTypeName"]) for i in skipped)

    couples = [c for p in pages for c in p.couples]
    two = next(c for c in couples if c.partner2 is not None)
    job = jobs[two.external_id]
    assert (two.wedding_date, two.stage, two.lead_source) == (job["eventDate"], job["stage"], job["leadSourceName"])
    links = httpx.get(
        f"{sandbox}/v2/job-contact", params={"jobId": two.external_id}, headers={"X-API-KEY": KEY}
    ).json()["items"]
    assert [two.partner1.external_id if two.partner1 else None, two.partner2.external_id] == [
        link["contactId"] for link in links if link["client"]
    ]
    person = httpx.get(
        f"{sandbox}/v2/address-book/{two.partner1.external_id if two.partner1 else ''}", headers={"X-API-KEY": KEY}
    ).json()
    assert two.partner1 is not None
    assert two.partner1.email == person["email"]
    # One-client jobs list a planner as a non-client contact: never imported as a partner.
    single = [c for c in couples if c.partner2 is None]
    assert single
    assert all(c.partner1 is not None for c in single)
    assert any(c.venue_name for c in couples)


def test_resume_from_a_checkpointed_page(sandbox: str) -> None:
    all_pages = list(_client(sandbox).iter_couples())
    resumed = list(_client(sandbox).iter_couples(start_page=2))
    assert [p.page for p in resumed] == [2, 3]
    assert _ids(resumed) == _ids(all_pages[1:])


def test_malformed_page_names_the_page(sandbox: str) -> None:
    httpx.post(f"{sandbox}/_sandbox/faults", json={"malformed_page": 2}).raise_for_status()
    pages = _client(sandbox).iter_couples()
    # Page 1 is held back until we know whether it was the last, so nothing is yielded.
    with pytest.raises(ProviderError) as err:
        next(pages)
    assert err.value.kind == "malformed"
    assert err.value.page == 2
    assert "page 2 of your jobs" in err.value.message


def test_record_missing_required_fields_is_malformed(sandbox: str) -> None:
    httpx.post(
        f"{sandbox}/_sandbox/faults", json={"malformed_page": 3, "malformed_kind": "missing_fields"}
    ).raise_for_status()
    with pytest.raises(ProviderError) as err:
        list(_client(sandbox).iter_couples())
    assert err.value.kind == "malformed"
    assert err.value.page == 3


def test_contacts_read_alongside_couples_are_never_fetched_one_by_one(sandbox: str) -> None:
    # Contacts are read in a thread of their own while job pages become couples; a page waits for its
    # people, so none is asked for by id (the path for jobs the bulk lists did not cover).
    httpx.delete(f"{sandbox}/_sandbox/stats")
    couples = [c for p in _client(sandbox).iter_couples() for c in p.couples]
    assert len(couples) > 200
    assert all(c.partner1 is not None for c in couples)
    endpoints = httpx.get(f"{sandbox}/_sandbox/stats").json()["endpoints"]
    assert endpoints["GET /v2/address-book"] == {"200": 5}
    assert "GET /v2/address-book/{id}" not in endpoints


def test_malformed_contacts_page_stops_the_import(sandbox: str) -> None:
    # 500 contacts in pages of 100: contact page 4 holds people of job page 2. The contacts are read in a
    # thread of their own; what stops it must reach the import, not leave couples without their people.
    httpx.post(
        f"{sandbox}/_sandbox/faults", json={"malformed_page": 4, "malformed_path": "/v2/address-book"}
    ).raise_for_status()
    yielded: list[TavePage] = []
    pages = _client(sandbox).iter_couples()
    with pytest.raises(ProviderError) as err:
        yielded.extend(pages)
    assert err.value.kind == "malformed"
    assert "page 4 of your contacts" in err.value.message
    assert [p.page for p in yielded] in ([], [1])  # page 1 is held back until page 2 is made
    assert all(c.partner1 is not None for p in yielded for c in p.couples)


def test_shifting_records_are_neither_lost_nor_doubled(sandbox: str) -> None:
    before = {j["id"] for j in _listed_jobs(sandbox)}
    httpx.post(
        f"{sandbox}/_sandbox/faults", json={"shift_insert_per_page": 4, "shift_max_inserts": 12}
    ).raise_for_status()
    pages = list(_client(sandbox).iter_couples())
    httpx.post(f"{sandbox}/_sandbox/faults", json={}).raise_for_status()
    after = {j["id"] for j in _listed_jobs(sandbox)}
    ids = _ids(pages)
    assert len(after) == 262
    assert before < after
    assert len(ids) == len(set(ids)), "a job was imported twice"
    assert set(ids) == after, "a job was lost"
    assert max(p.pass_number for p in pages) == 2
    # The new jobs came through with their people, fetched per job.
    new = after - before
    assert all(c.partner1 is not None for p in pages for c in p.couples if c.external_id in new)


def test_incremental_sync_returns_exactly_what_changed(sandbox: str) -> None:
    client = _client(sandbox)
    cursor = list(client.iter_couples())[-1].cursor
    assert cursor is not None

    touched = _touch(sandbox, count=5)  # stamped in groups of 3 sharing one timestamp
    run = list(client.iter_changed_since(cursor))
    assert sorted(_ids(run)) == sorted(touched)
    cursor = run[-1].cursor
    assert cursor is not None
    assert len(cursor.ids) == 2

    # Edits in the very second of the cursor: inclusive read finds them, the id list stops
    # the two already taken from coming back.
    same_second = _touch(sandbox, count=3, reuse_latest_timestamp=True)
    run = list(client.iter_changed_since(cursor))
    assert sorted(_ids(run)) == sorted(same_second)
    cursor = run[-1].cursor
    assert cursor is not None
    assert len(cursor.ids) == 5

    run = list(client.iter_changed_since(cursor))
    assert _ids(run) == []
    assert run[-1].cursor == cursor


def test_incremental_with_many_changes_switches_to_bulk_lookups(sandbox: str) -> None:
    client = _client(sandbox, bulk_threshold=20)
    cursor = list(client.iter_couples())[-1].cursor
    touched = _touch(sandbox, count=60)
    httpx.delete(f"{sandbox}/_sandbox/stats")
    run = list(client.iter_changed_since(cursor))
    assert sorted(_ids(run)) == sorted(touched)
    stats = httpx.get(f"{sandbox}/_sandbox/stats").json()["endpoints"]
    assert "GET /v2/address-book" in stats  # bulk list read
    assert sum(stats.get("GET /v2/address-book/{id}", {}).values()) < 60


def test_no_cursor_means_everything(sandbox: str) -> None:
    pages = list(_client(sandbox).iter_changed_since(None))
    assert len(_ids(pages)) == 250
    assert pages[-1].cursor is not None


def test_cursor_round_trips_as_json() -> None:
    import msgspec

    cursor = TaveCursor("2026-06-01T00:00:01Z", ("a", "b"))
    assert msgspec.json.decode(msgspec.json.encode(cursor), type=TaveCursor) == cursor


def test_import_survives_rate_limits_and_server_errors(sandbox: str) -> None:
    httpx.post(
        f"{sandbox}/_sandbox/faults", json={"rate_limit_every": 5, "retry_after": "2", "error_probability": 0.2}
    ).raise_for_status()
    waits: list[str] = []
    client = TaveClient(
        f"{sandbox}/v2", KEY, sleep=lambda _: None, on_wait=lambda r, s: waits.append(r), allow_local=True
    )
    assert len(_ids(list(client.iter_couples()))) == 250
    assert any("slow down" in w for w in waits)
    assert any("server error" in w for w in waits)


def test_connection_check(sandbox: str) -> None:
    assert _client(sandbox).test_connection().ok
    bad = TaveClient(f"{sandbox}/v2", "wrong-key", allow_local=True).test_connection()
    assert not bad.ok
    assert "API key" in bad.reason
    assert "wrong-key" not in bad.reason
    down = TaveClient("http://127.0.0.1:9/v2", KEY, sleep=lambda _: None, allow_local=True).test_connection()
    assert not down.ok
    assert "couldn't reach Tave" in down.reason


def test_wedding_filter() -> None:
    assert is_wedding_job("Wedding")
    assert is_wedding_job("Destination Elopement")
    assert is_wedding_job("Full Day Coverage")
    assert is_wedding_job(None)
    assert not is_wedding_job("Family Portrait")
    assert not is_wedding_job("Headshots")


def _job_requests(url: str) -> int:
    stats = httpx.get(f"{url}/_sandbox/stats").json()["endpoints"]
    return sum(stats.get("GET /v2/job", {}).values())


def test_reading_ahead_asks_for_no_page_a_one_by_one_walk_would_not(sandbox: str) -> None:
    client = _client(sandbox, concurrency=4)
    httpx.delete(f"{sandbox}/_sandbox/stats")
    pages = list(client.iter_couples())
    assert [p.page for p in pages] == [1, 2, 3]
    # One page for the cursor taken up front, then the three pages of jobs: nothing past the end.
    assert _job_requests(sandbox) == 4

    cursor = pages[-1].cursor
    httpx.delete(f"{sandbox}/_sandbox/stats")
    assert _ids(list(client.iter_changed_since(cursor))) == []
    # Nothing changed: the newest-first walk stops at its first page, and so do its requests.
    assert _job_requests(sandbox) == 1


def test_pages_read_ahead_arrive_in_order_through_rate_limits(sandbox: str) -> None:
    httpx.post(f"{sandbox}/_sandbox/faults", json={"rate_limit_every": 3, "retry_after": "0"}).raise_for_status()
    ahead = list(_client(sandbox, concurrency=4).iter_couples())
    httpx.post(f"{sandbox}/_sandbox/faults", json={}).raise_for_status()
    one_by_one = list(_client(sandbox, concurrency=1).iter_couples())
    assert [p.page for p in ahead] == [1, 2, 3]
    assert _ids(ahead) == _ids(one_by_one)
    assert [c for p in ahead for c in p.couples] == [c for p in one_by_one for c in p.couples]
