"""Live progress over real HTTP: SSE events in order, resume after Last-Event-ID (header and query
parameter), final state after a disconnect, any web process, tenant isolation, and conditional polls."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator

import httpx
import psycopg
import pytest

from tests.fixtures import Account, Server, Services, import_csv, signup, start_web, stop_process, wait_for

ROWS = 9_000  # five batches of up to 2,000: enough events to resume in the middle


class Event:
    def __init__(self, name: str, id_: str | None, data: str) -> None:
        self.name, self.id, self.data = name, id_, data

    @property
    def processed(self) -> int:
        match = re.search(r'data-testid="job-processed">(\d+)', self.data)
        return int(match.group(1)) if match else -1

    @property
    def status(self) -> str:
        match = re.search(r'data-status="([a-z_]+)"', self.data)
        return match.group(1) if match else ""


def sse_frames(response: httpx.Response, *, comments: bool = False) -> Iterator[Event]:
    """Events from an open text/event-stream response (with ``comments``, heartbeats too, named ``comment``)."""
    name, id_, data = "message", None, list[str]()
    for line in response.iter_lines():
        if line.startswith(":"):
            if comments:
                yield Event("comment", None, line[1:].strip())
        elif line == "":
            if data or name != "message":
                yield Event(name, id_, "\n".join(data))
            name, id_, data = "message", None, []
        elif line.startswith("event: "):
            name = line[7:]
        elif line.startswith("id: "):
            id_ = line[4:]
        elif line.startswith("data: "):
            data.append(line[6:])


def read_events(client: httpx.Client, url: str, headers: dict[str, str] | None = None) -> Iterator[Event]:
    """Parse a text/event-stream until the server closes it."""
    with client.stream("GET", url, headers=headers or {}, timeout=httpx.Timeout(10, read=60)) as response:
        assert response.status_code == 200, response.read()[:300]
        assert response.headers["content-type"].startswith("text/event-stream")
        yield from sse_frames(response)


def _csv(rows: int) -> bytes:
    lines = ["ID,First Name,Last Name,Email"]
    lines += [f"r{i},Guest{i},Surname{i % 300},guest{i}@example.com" for i in range(rows)]
    return ("\r\n".join(lines) + "\r\n").encode()


def start_file_import(account: Account, rows: int = ROWS) -> int:
    return import_csv(account, "big.csv", _csv(rows))


def _finished(services: Services, job_id: int) -> bool:
    with psycopg.connect(services.database_url) as conn:
        row = conn.execute("SELECT status FROM sync_jobs WHERE id = %s", [job_id]).fetchone()
    return bool(row and row[0] in ("succeeded", "partially_succeeded", "failed", "cancelled"))


@pytest.fixture
def finished_job(
    account: Account, services: Services, worker: subprocess.Popen[bytes]
) -> tuple[Account, int, list[Event]]:
    """A finished import and the full list of its events, read from the start of its stream."""
    job_id = start_file_import(account)
    wait_for(lambda: _finished(services, job_id), 90, "the import to finish")
    events = list(read_events(account.client, f"/jobs/{job_id}/events", {"Last-Event-ID": "0-0"}))
    return account, job_id, events


def test_events_arrive_in_order_during_a_real_import(
    account: Account, services: Services, worker: subprocess.Popen[bytes]
) -> None:
    job_id = start_file_import(account)
    events = list(read_events(account.client, f"/jobs/{job_id}/events"))
    progress = [e for e in events if e.name == "progress"]
    assert events[-1].name == "end"
    assert progress[-1].status == "succeeded"
    assert progress[-1].processed == ROWS
    counts = [e.processed for e in progress]
    assert counts == sorted(counts)
    ids = [tuple(int(p) for p in e.id.split("-")) for e in progress if e.id and e.id != "0"]
    assert ids == sorted(ids)


def test_resume_after_last_event_id_header_and_query(finished_job: tuple[Account, int, list[Event]]) -> None:
    account, job_id, everything = finished_job
    progress = [e for e in everything if e.name == "progress"]
    assert len(progress) >= 5  # started, batches, finished
    middle = progress[2]
    assert middle.id
    expected = [e.id for e in progress[3:]]
    by_header = [e for e in read_events(account.client, f"/jobs/{job_id}/events", {"Last-Event-ID": middle.id})]
    by_query = [e for e in read_events(account.client, f"/jobs/{job_id}/events?last_event_id={middle.id}")]
    for resumed in (by_header, by_query):
        assert [e.id for e in resumed if e.name == "progress"] == expected
        assert resumed[-1].name == "end"


def test_a_job_that_ended_while_away_shows_its_final_state(finished_job: tuple[Account, int, list[Event]]) -> None:
    account, job_id, _ = finished_job
    fresh = list(read_events(account.client, f"/jobs/{job_id}/events"))
    assert [e.name for e in fresh] == ["progress", "end"]
    assert fresh[0].status == "succeeded"
    assert fresh[0].processed == ROWS
    assert "retry: 3000" not in fresh[0].data


def test_another_web_process_streams_a_job_it_did_not_start(
    account: Account, services: Services, worker: subprocess.Popen[bytes]
) -> None:
    other = start_web(services)
    try:
        job_id = start_file_import(account)
        cookie = "; ".join(f"{k}={v}" for k, v in _cookies(account).items())
        with httpx.Client(base_url=other.url) as raw:
            events = list(read_events(raw, f"/jobs/{job_id}/events", {"cookie": cookie}))
        assert events[-1].name == "end"
        assert [e for e in events if e.name == "progress"][-1].status == "succeeded"
    finally:
        stop_process(other.process)


def _cookies(account: Account) -> dict[str, str]:
    """The session cookies the account's client would send, to replay them against another web process."""
    request = account.client.build_request("GET", "/")
    for hook in account.client.event_hooks["request"]:
        hook(request)
    header = request.headers.get("cookie", "")
    return dict(part.split("=", 1) for part in header.split("; ") if "=" in part)


def test_supplier_b_cannot_open_supplier_a_stream(
    finished_job: tuple[Account, int, list[Event]], server: Server, services: Services
) -> None:
    _, job_id, _ = finished_job
    intruder = signup(server.url, services.database_url)
    assert intruder.client.get(f"/jobs/{job_id}/events").status_code == 404
    assert intruder.client.get(f"/jobs/{job_id}/progress").status_code == 404


def test_poll_is_conditional(finished_job: tuple[Account, int, list[Event]]) -> None:
    account, job_id, _ = finished_job
    first = account.client.get(f"/jobs/{job_id}/progress")
    assert first.status_code == 200
    etag = first.headers["etag"]
    assert f'id="job-status-{job_id}"' in first.text
    again = account.client.get(f"/jobs/{job_id}/progress", headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["etag"] == etag


def test_jobs_screen_lists_running_first_and_filters(
    account: Account, services: Services, worker: subprocess.Popen[bytes]
) -> None:
    job_id = start_file_import(account, rows=10)
    wait_for(lambda: _finished(services, job_id), 60, "the import to finish")
    with psycopg.connect(services.database_url) as conn:
        conn.execute("SELECT set_config('app.supplier_id', %s, true)", [str(account.supplier_id)])
        failed = conn.execute(
            "INSERT INTO sync_jobs (supplier_id, kind, source, status, message) "
            "VALUES (%s, 'full_import', 'tave', 'failed', 'Tave said the key is wrong') RETURNING id",
            [account.supplier_id],
        ).fetchone()
        running = conn.execute(
            "INSERT INTO sync_jobs (supplier_id, kind, source, status, created_at) "
            "VALUES (%s, 'full_import', 'tave', 'running', now() - interval '1 day') RETURNING id",
            [account.supplier_id],
        ).fetchone()
    assert failed
    assert running
    html = account.client.get("/jobs/").text
    order = [int(m) for m in re.findall(r'id="job-status-(\d+)"', html)]
    assert order[0] == running[0]  # running first, although it is the oldest
    assert set(order) == {job_id, failed[0], running[0]}
    only_failed = account.client.get("/jobs/", params={"state": "failed"}).text
    assert re.findall(r'id="job-status-(\d+)"', only_failed) == [str(failed[0])]
    assert "Try all 1 failed imports again" in only_failed
    only_csv = account.client.get("/jobs/", params={"source": "csv"}).text
    assert re.findall(r'id="job-status-(\d+)"', only_csv) == [str(job_id)]
    timeline = account.client.get(f"/jobs/{job_id}").text
    assert re.search(r'<ol class="timeline">.*Started\..*</ol>', timeline, re.S)


def test_jobs_screen_pages_through_older_imports_with_a_keyset(account: Account, services: Services) -> None:
    with psycopg.connect(services.database_url) as conn:
        conn.execute(
            "INSERT INTO sync_jobs (supplier_id, kind, source, status, created_at) "
            "SELECT %s, 'file_import', 'csv', CASE WHEN i = 120 THEN 'running' ELSE 'succeeded' END, "
            "       now() - make_interval(mins => i) FROM generate_series(1, 120) AS i",
            [account.supplier_id],
        )
    seen: list[int] = []
    url: str | None = "/jobs/?source=csv"
    pages = 0
    while url:
        html = account.client.get(url).text
        seen += [int(m) for m in re.findall(r'id="job-status-(\d+)"', html)]
        found = re.search(r'href="([^"]+)" data-testid="older-jobs"', html)
        url = found.group(1).replace("&amp;", "&") if found else None
        if url:
            assert "source=csv" in url  # the filter survives paging
        pages += 1
    assert pages == 3  # 50 + 50 + 20
    assert len(seen) == len(set(seen)) == 120  # every import once, none twice
    with psycopg.connect(services.database_url) as conn:
        oldest_running = conn.execute(
            "SELECT id FROM sync_jobs WHERE supplier_id = %s AND status = 'running'", [account.supplier_id]
        ).fetchone()
    assert oldest_running
    assert seen[0] == oldest_running[0]  # running first, on the first page, although it is the oldest
    assert account.client.get("/jobs/", params={"after": "not-a-cursor"}).status_code == 200  # a bad link: page 1


def test_retry_all_failed_needs_confirmation_and_requeues(
    account: Account, services: Services, worker: subprocess.Popen[bytes]
) -> None:
    with psycopg.connect(services.database_url) as conn:
        conn.execute("SELECT set_config('app.supplier_id', %s, true)", [str(account.supplier_id)])
        row = conn.execute(
            "INSERT INTO sync_jobs (supplier_id, kind, source, status) "
            "VALUES (%s, 'export_to_crm', 'lightblue', 'failed') "
            "RETURNING id",
            [account.supplier_id],
        ).fetchone()
    assert row
    unconfirmed = account.post("/jobs/retry-failed", {})
    assert unconfirmed.status_code == 303
    with psycopg.connect(services.database_url) as conn:
        assert conn.execute("SELECT status FROM sync_jobs WHERE id = %s", [row[0]]).fetchone() == ("failed",)
    account.post("/jobs/retry-failed", {"confirm": "yes"})
    # The job has no integration, so the worker cannot export anything: it must not stay "queued" forever.
    wait_for(lambda: _status(services, row[0]) not in ("queued",), 60, "the retried job to be picked up")


def _status(services: Services, job_id: int) -> str:
    with psycopg.connect(services.database_url) as conn:
        found = conn.execute("SELECT status FROM sync_jobs WHERE id = %s", [job_id]).fetchone()
    return str(found[0]) if found else ""
