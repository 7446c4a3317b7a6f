"""The SSE streams' own machinery over real HTTP, Redis and PostgreSQL, with events published as a worker does
(``core.progress.Publisher``): live fan-out to job and supplier streams, the final event, resuming after it,
the per-supplier cap, signed-out phones, headers, heartbeats and the close when the session ends."""

from __future__ import annotations

import re
import threading
import time

import httpx
import psycopg
import pytest
import redis

from core.progress import ProgressEvent, Publisher
from tests.fixtures import Account, Server, Services, signup
from tests.test_progress import read_events, sse_frames
from webapp.live import MAX_STREAMS_PER_SUPPLIER, SSE_COUNT_KEY

_ID = re.compile(r"^\d+-\d+$")


def _job(services: Services, supplier_id: int, status: str = "running") -> int:
    with psycopg.connect(services.database_url, autocommit=True) as conn:
        row = conn.execute(
            "INSERT INTO sync_jobs (supplier_id, kind, source, status, total) "
            "VALUES (%s, 'file_import', 'csv', %s, 1000) RETURNING id",
            [supplier_id, status],
        ).fetchone()
    assert row is not None
    return int(row[0])


def _event(supplier_id: int, job_id: int, processed: int, status: str = "running") -> ProgressEvent:
    return ProgressEvent(
        job_id=job_id, supplier_id=supplier_id, kind="file_import", source="csv", status=status,
        processed=processed, total=1000,
    )  # fmt: skip


@pytest.fixture
def publisher(services: Services) -> Publisher:
    return Publisher(services.redis_url)


def test_live_events_reach_the_job_stream_in_order_then_it_closes(
    account: Account, services: Services, publisher: Publisher
) -> None:
    job_id = _job(services, account.supplier_id)
    events = read_events(account.client, f"/jobs/{job_id}/events")
    snapshot = next(events)  # the stream is registered before its snapshot is sent
    assert (snapshot.name, snapshot.processed, snapshot.status) == ("progress", 0, "running")
    for processed in (100, 200, 300):
        publisher.emit(_event(account.supplier_id, job_id, processed))
    publisher.emit(_event(account.supplier_id, job_id, 300, status="succeeded"))
    rest = list(events)  # until the server closes the stream after the final event
    progress = [e for e in rest if e.name == "progress"]
    assert [(e.processed, e.status) for e in progress] == [
        (100, "running"), (200, "running"), (300, "running"), (300, "succeeded"),
    ]  # fmt: skip
    assert all(e.id and _ID.match(e.id) for e in progress)
    assert rest[-1].name == "end"
    assert rest[-1].id == progress[-1].id


def test_resuming_after_the_final_event_says_the_job_ended(
    account: Account, services: Services, publisher: Publisher
) -> None:
    job_id = _job(services, account.supplier_id)
    publisher.emit(_event(account.supplier_id, job_id, 1000, status="succeeded"))
    with psycopg.connect(services.database_url, autocommit=True) as conn:
        conn.execute("UPDATE sync_jobs SET status = 'succeeded', processed = 1000 WHERE id = %s", [job_id])
    everything = list(read_events(account.client, f"/jobs/{job_id}/events", {"Last-Event-ID": "0-0"}))
    assert [e.name for e in everything] == ["progress", "end"]
    final = everything[0].id
    assert final
    again = list(read_events(account.client, f"/jobs/{job_id}/events?last_event_id={final}"))
    assert [(e.name, e.id) for e in again] == [("end", final)]  # not a stream left open on a finished job


def test_supplier_stream_carries_every_job_of_that_supplier_only(
    account: Account, server: Server, services: Services, publisher: Publisher
) -> None:
    other = signup(server.url, services.database_url)
    first, second = _job(services, account.supplier_id), _job(services, account.supplier_id)
    theirs = _job(services, other.supplier_id)
    with (
        account.client.stream("GET", "/jobs/events", timeout=httpx.Timeout(10, read=30)) as mine,
        other.client.stream("GET", "/jobs/events", timeout=httpx.Timeout(10, read=30)) as others,
    ):
        assert mine.status_code == others.status_code == 200  # both registered: headers follow the subscription
        publisher.emit(_event(account.supplier_id, first, 10))
        publisher.emit(_event(other.supplier_id, theirs, 77))
        publisher.emit(_event(account.supplier_id, second, 20))
        publisher.emit(_event(account.supplier_id, first, 30, status="failed"))
        seen = []
        for event in sse_frames(mine, comments=True):
            seen.append(event)
            if len(seen) == 3:
                break
        assert [(e.name, e.processed) for e in seen] == [("progress", 10), ("progress", 20), ("progress", 30)]
        assert all(f'id="job-status-{j}"' in e.data for e, j in zip(seen, (first, second, first), strict=True))
        ids = [tuple(int(p) for p in (e.id or "").split("-")) for e in seen]
        assert ids == sorted(ids)
        assert len(set(ids)) == 3
        # The other supplier's stream got its own event first, none of this supplier's.
        assert next(e for e in sse_frames(others, comments=True) if e.name == "progress").processed == 77
    other.client.close()


def test_signed_out_phones_and_other_suppliers_are_refused_with_the_apps_pages(
    account: Account, server: Server, services: Services
) -> None:
    job_id = _job(services, account.supplier_id)
    with httpx.Client(base_url=server.url, follow_redirects=False) as anonymous:
        for path in ("/jobs/events", f"/jobs/{job_id}/events"):
            resp = anonymous.get(path)
            assert resp.is_redirect, path
            assert resp.headers["location"].endswith("/login")
        stale = anonymous.get("/jobs/events", headers={"cookie": "wedsync_session=not-a-session"})
        assert stale.is_redirect
    intruder = signup(server.url, services.database_url)
    refused = intruder.client.get(f"/jobs/{job_id}/events")
    assert refused.status_code == 404
    assert "text/html" in refused.headers["content-type"]
    assert refused.headers["x-frame-options"] == "DENY"  # the app's error page, through its middleware
    intruder.client.close()


def test_stream_headers(account: Account) -> None:
    with account.client.stream("GET", "/jobs/events", headers={"X-Request-ID": "sse-probe-1"}) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        assert response.headers["cache-control"] == "no-store"
        assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
        assert response.headers["x-request-id"] == "sse-probe-1"
        assert "content-encoding" not in response.headers  # never buffered by compression


def test_per_supplier_cap(account: Account, services: Services) -> None:
    """Slots are shared by every web process through Redis: fill them as other processes' phones would."""
    assert MAX_STREAMS_PER_SUPPLIER >= 250  # DESIGN §5
    client = redis.Redis.from_url(services.redis_url)
    key = SSE_COUNT_KEY.format(account.supplier_id)
    client.zadd(key, {f"elsewhere-{i}": time.time() + 60 for i in range(MAX_STREAMS_PER_SUPPLIER)})
    try:
        refused = account.client.get("/jobs/events")
        assert refused.status_code == 429
        assert refused.headers["retry-after"] == "30"
        assert client.zcard(key) == MAX_STREAMS_PER_SUPPLIER  # the refused stream holds no slot
        client.zrem(key, "elsewhere-0")
        with account.client.stream("GET", "/jobs/events") as response:
            assert response.status_code == 200
            assert client.zcard(key) == MAX_STREAMS_PER_SUPPLIER
    finally:
        client.delete(key)
        client.close()


def test_heartbeats_keep_a_stream_and_a_sign_out_ends_it(account: Account, server: Server, services: Services) -> None:
    """Two phones stream; one signs out. At its next heartbeat (15 s) the signed-out phone's stream closes,
    and the other gets a keep-alive comment."""
    leaving = signup(server.url, services.database_url)
    outcome: dict[str, list[str]] = {}
    opened = {"staying": threading.Event(), "leaving": threading.Event()}

    def watch(name: str, who: Account) -> None:
        frames = []
        with who.client.stream("GET", "/jobs/events", timeout=httpx.Timeout(10, read=40)) as response:
            assert response.status_code == 200
            opened[name].set()
            for event in sse_frames(response, comments=True):
                frames.append(f"{event.name}:{event.data}")
                if event.name == "comment":
                    break
        outcome[name] = [*frames, "closed"]

    threads = [threading.Thread(target=watch, args=args) for args in (("staying", account), ("leaving", leaving))]
    for thread in threads:
        thread.start()
    assert all(event.wait(20) for event in opened.values())
    assert leaving.post("/logout", {}).is_redirect
    for thread in threads:
        thread.join(45)
    assert outcome["leaving"] == ["closed"]  # no keep-alive for a session that has ended
    assert outcome["staying"] == ["comment:keep-alive", "closed"]
    leaving.client.close()
