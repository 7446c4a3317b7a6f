"""Two web processes and two worker processes on one PostgreSQL and one Redis, as on several machines.

The cluster uses its own Redis database (``/3``) so the session's worker (on ``/0``) cannot take its jobs:
then "which worker ran the job" has only two answers, read from each worker's own log.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import psycopg
import pytest
import redis

from core.queue import HEARTBEAT_KEY
from tests.fixtures import (
    ROOT,
    Account,
    Server,
    Services,
    seed_clients,
    signup,
    start_import,
    start_web,
    stop_process,
    upload_for_preview,
    wait_for,
)

JOBS = 6
REDIS_DB = 3  # the session's servers use 0, the import tests 9 and 10
ROWS = 4_000  # two batches of 2,000 a job
_FINISHED = re.compile(r"import job finished.*?job_id=(\d+)")


@dataclass
class Cluster:
    web_a: Server
    web_b: Server
    workers: list[subprocess.Popen[bytes]]
    logs: list[Path]
    redis_url: str

    def jobs_run_by(self) -> list[set[int]]:
        """Job ids each worker logged as finished (the "import job finished" line has the job id)."""
        return [{int(m) for m in _FINISHED.findall(log.read_text(errors="replace"))} for log in self.logs]


def _redis_db(url: str, db: int) -> str:
    base, _, current = url.rpartition("/")
    assert current.isdigit(), url
    return f"{base}/{db}"


@pytest.fixture(scope="module")
def cluster(services: Services, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    redis_url = _redis_db(services.redis_url, REDIS_DB)
    logs_dir = tmp_path_factory.mktemp("workers")
    procs: list[subprocess.Popen[bytes]] = []
    logs: list[Path] = []
    webs: list[Server] = []
    try:
        webs = [start_web(services, REDIS_URL=redis_url, LOGIN_ATTEMPTS_PER_MINUTE="10") for _ in range(2)]
        for name in ("x", "y"):
            log = logs_dir / f"worker-{name}.log"
            with log.open("wb") as out:  # the child keeps its own descriptor
                procs.append(
                    subprocess.Popen(
                        [sys.executable, "-m", "webapp.cli", "worker", "--processes", "1", "--threads", "1"],
                        env=services.env(REDIS_URL=redis_url, LOG_LEVEL="INFO"),
                        cwd=ROOT,
                        stdout=out,
                        stderr=subprocess.STDOUT,
                    )
                )
            logs.append(log)
        client = redis.Redis.from_url(redis_url)
        wait_for(lambda: client.zcard(HEARTBEAT_KEY) >= 2, 60, "both workers' heartbeats")
        yield Cluster(webs[0], webs[1], procs, logs, redis_url)
    finally:
        for proc in procs:
            stop_process(proc)
        for web in webs:
            stop_process(web.process)


def _cookie_header(account: Account) -> str:
    """The cookies the account's client sends, to replay the same signed-in phone against another process."""
    request = account.client.build_request("GET", "/")
    for hook in account.client.event_hooks["request"]:
        hook(request)
    return request.headers["cookie"]


def _csv(rows: int, tag: str) -> bytes:
    lines = ["ID,First Name,Last Name,Email"]
    lines += [f"{tag}-{i},Guest{i},Surname{i % 300},{tag}.{i}@example.com" for i in range(rows)]
    return ("\r\n".join(lines) + "\r\n").encode()


def _upload(account: Account, tag: str) -> tuple[str, dict[str, str]]:
    """An uploaded file up to its preview: where to start it, and the form that starts it."""
    return upload_for_preview(account, f"{tag}.csv", _csv(ROWS, tag))


def _events(client: httpx.Client, url: str) -> list[tuple[str, str]]:
    """(event name, data) pairs of a text/event-stream, read until the server ends it."""
    out: list[tuple[str, str]] = []
    with client.stream("GET", url, timeout=httpx.Timeout(10, read=90)) as response:
        assert response.status_code == 200
        name, data = "message", []
        for line in response.iter_lines():
            if line == "":
                if data:
                    out.append((name, "\n".join(data)))
                name, data = "message", []
            elif line.startswith("event: "):
                name = line[7:]
            elif line.startswith("data: "):
                data.append(line[6:])
    return out


def _status(fragment: str) -> str:
    match = re.search(r'data-status="([a-z_]+)"', fragment)
    assert match, fragment[:300]
    return match.group(1)


def test_imports_started_on_one_web_run_on_both_workers_and_show_on_the_other_web(
    cluster: Cluster, services: Services
) -> None:
    account = signup(cluster.web_a.url, services.database_url)
    # All through web A. Every file is previewed first and the jobs are started together, so they wait in the
    # queue at once and a worker that polls second still finds some (a job takes well under a second now).
    uploads = [_upload(account, f"j{n}") for n in range(JOBS)]
    job_ids = [start_import(account, url, form) for url, form in uploads]

    with httpx.Client(base_url=cluster.web_b.url, headers={"cookie": _cookie_header(account)}) as web_b:
        # Live progress of the first job, streamed by web B, which neither started it nor ran it.
        events = _events(web_b, f"/jobs/{job_ids[0]}/events")
        progress = [data for name, data in events if name == "progress"]
        assert events[-1][0] == "end"
        assert _status(progress[-1]) == "succeeded"
        assert f'data-testid="job-processed">{ROWS}' in progress[-1]

        # The others, by conditional polling on web B, as a phone on a weak signal does.
        def all_done() -> bool:
            states = [_status(web_b.get(f"/jobs/{job_id}/progress").text) for job_id in job_ids]
            return all(state == "succeeded" for state in states)

        wait_for(all_done, 120, "every import to finish, seen through web B")

    with psycopg.connect(services.database_url) as conn:
        count = conn.execute("SELECT count(*) FROM clients WHERE supplier_id = %s", [account.supplier_id]).fetchone()
    assert count == (JOBS * ROWS,)

    # Each job ran exactly once, and both workers took some: nothing tied a job to one process.
    def logged() -> list[set[int]] | None:
        ran = cluster.jobs_run_by()
        return ran if set().union(*ran) >= set(job_ids) else None

    ran = wait_for(logged, 10, "the workers' log lines for every job")
    mine = [r & set(job_ids) for r in ran]
    assert sorted(mine[0] | mine[1]) == sorted(job_ids)
    assert not mine[0] & mine[1]
    assert mine[0]
    assert mine[1], f"one worker ran every job: {mine}"


def test_a_change_made_through_one_web_process_is_seen_at_once_through_the_other(
    cluster: Cluster, services: Services
) -> None:
    account = signup(cluster.web_a.url, services.database_url)
    (client_id,) = seed_clients(
        services.database_url, account.supplier_id, [{"partner1_first": "Ada", "partner1_last": "Lovelace"}]
    )
    with httpx.Client(base_url=cluster.web_b.url, headers={"cookie": _cookie_header(account)}) as web_b:
        before = web_b.get(f"/clients/{client_id}")  # web B has read (and may have cached) the page
        assert before.status_code == 200
        assert "Grandma photos before the speeches" not in before.text

        note = account.post(
            f"/clients/{client_id}/notes",
            {"body": "Grandma photos before the speeches", "idempotency_key": "scale-out-note-1"},
            csrf_page=f"/clients/{client_id}",
        )
        assert note.status_code == 303, note.text[:300]
        assert "Grandma photos before the speeches" in web_b.get(f"/clients/{client_id}").text

        # And the other way round: a status change through web B, read back through web A.
        page_b = web_b.get(f"/clients/{client_id}").text
        token = re.search(r'name="_csrf_token" value="([^"]+)"', page_b)
        version = re.search(r'name="version" value="(\d+)"', page_b)
        assert token
        assert version
        changed = web_b.post(
            f"/clients/{client_id}/status",
            data={
                "_csrf_token": token.group(1),
                "status": "booked",
                "version": version.group(1),
                "idempotency_key": "scale-out-status-1",
            },
        )
        assert changed.status_code == 303, changed.text[:300]
    after = account.client.get(f"/clients/{client_id}").text
    assert 'data-testid="status">booked<' in after, "web A still shows the old status"
