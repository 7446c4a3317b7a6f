"""A job whose queue message was lost (Redis restarted without its append-only file, or the web process died
between committing the job and sending it) is sent again by the housekeeping sweep, once, and runs; a job whose
message is still in Redis is never sent twice. A running job that stops moving is stalled: counted by
/health/ready, marked on the jobs screen, and ended failed once it has been still far longer with its message
present."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
import redis
from dramatiq import Message

from core.settings import Settings
from jobs.housekeeping import fail_stalled_jobs, job_ids_in_queues, resend_lost_jobs
from tests.fixtures import Account, Server, Services
from tests.test_import_support import ImportEnv, couples_csv, import_env_fixture


@pytest.fixture(scope="module")
def imports(tmp_path_factory: pytest.TempPathFactory, services: Services) -> Iterator[ImportEnv]:
    yield from import_env_fixture(tmp_path_factory, services)


def _idle_for(imports: ImportEnv, job_id: int, minutes: int) -> None:
    with psycopg.connect(imports.services.database_url) as conn:
        conn.execute("UPDATE sync_jobs SET updated_at = now() - make_interval(mins => %s) WHERE id = %s",
                     [minutes, job_id])  # fmt: skip


def test_a_lost_job_is_sent_again_once_and_runs(imports: ImportEnv, tmp_path: Path) -> None:
    client = redis.Redis.from_url(imports.redis_url)
    sid, _ = imports.supplier()
    lost = imports.file_job(sid, couples_csv(tmp_path / "lost.csv", 30, prefix="lost"))  # committed, never sent
    waiting = imports.file_job(sid, couples_csv(tmp_path / "waiting.csv", 20, prefix="wait"))
    imports.send("file_import", sid, waiting)  # a long queue: its message is there, just not taken yet
    young = imports.file_job(sid, couples_csv(tmp_path / "young.csv", 10, prefix="young"))  # message on its way
    _idle_for(imports, lost, 10)
    _idle_for(imports, waiting, 10)

    sent = resend_lost_jobs(imports.pool, client, imports.broker)
    assert lost in sent
    assert waiting not in sent
    assert young not in sent
    in_queues = job_ids_in_queues(client)
    assert {lost, waiting} <= in_queues
    assert young not in in_queues
    assert lost not in resend_lost_jobs(imports.pool, client, imports.broker)  # its message is there now

    imports.start_worker()
    for job_id, rows in ((lost, 30), (waiting, 20)):
        summary = imports.wait_done(sid, job_id)
        assert (summary.status, summary.created, summary.attempts) == ("succeeded", rows, 1)
    assert imports.summary(sid, young).status == "queued"  # never sent by anyone: still waiting, untouched


def _running_and_still(imports: ImportEnv, job_id: int, minutes: int) -> None:
    with psycopg.connect(imports.services.database_url) as conn:
        conn.execute(
            "UPDATE sync_jobs SET status = 'running', started_at = now() - make_interval(mins => %s), attempts = 1, "
            "updated_at = now() - make_interval(mins => %s) WHERE id = %s",
            [minutes, minutes, job_id],
        )


def _stalled_count(server: Server) -> int:
    jobs = httpx.get(server.url + "/health/ready", timeout=5).json()["jobs"]
    assert jobs["stall_after_s"] == 900
    return int(jobs["stalled"])


def test_a_stalled_job_is_reported_marked_and_ended_while_a_lost_one_is_sent_again(
    imports: ImportEnv, server: Server, account: Account, tmp_path: Path
) -> None:
    client = redis.Redis.from_url(imports.redis_url)
    sid = account.supplier_id
    before = _stalled_count(server)
    stuck = imports.file_job(sid, couples_csv(tmp_path / "stuck.csv", 10, prefix="stuck"))
    lost = imports.file_job(sid, couples_csv(tmp_path / "lost.csv", 10, prefix="lostrun"))
    # The stuck job's message is in Redis (delayed, so no worker of this module takes it): a worker holds it.
    message = Message(queue_name="imports", actor_name="file_import", args=(sid, stuck), kwargs={}, options={})
    imports.broker.enqueue(message, delay=3_600_000)
    _running_and_still(imports, stuck, 70)
    _running_and_still(imports, lost, 70)

    assert _stalled_count(server) == before + 2
    listed = account.client.get("/jobs/").text
    assert listed.count('data-testid="job-stalled"') == 2
    assert 'data-testid="job-stalled"' in account.client.get(f"/jobs/{stuck}").text

    # Still for 70 minutes, past the hour the defaults allow: the job with its message ends failed, in plain words;
    # the one without is left to the lost-message sweep, which sends it again and moves its row.
    assert fail_stalled_jobs(imports.pool, client) == [stuck]  # the settings' defaults
    ended = imports.summary(sid, stuck)
    assert ended.status == "failed"
    assert ended.message == (
        "This import made no progress for 60 minutes, so it was stopped. "
        "Everything imported before that is kept; you can try again."
    )
    assert imports.summary(sid, lost).status == "running"
    assert lost in resend_lost_jobs(imports.pool, client, imports.broker)
    assert imports.summary(sid, lost).message == "Sent to a worker again: the queue had lost it."
    assert fail_stalled_jobs(imports.pool, client, 60) == []  # resent: moving again, not stalled
    assert _stalled_count(server) == before
    assert 'data-testid="job-stalled"' not in account.client.get("/jobs/").text

    imports.start_worker()
    resumed = imports.wait_done(sid, lost)
    assert (resumed.status, resumed.created, resumed.attempts) == ("succeeded", 10, 2)


def test_stalled_jobs_are_failed_only_after_every_retry_could_have_run() -> None:
    required: dict[str, Any] = {"database_url": None, "redis_url": None, "secret_key": "", "encryption_keys": ()}
    assert Settings(**required).stall_fail_after_s == 3600  # four stall periods of 15 minutes
    slow_retries = Settings(**required, job_stall_s=60, job_max_attempts=5, job_retry_min_backoff_ms=60_000)
    assert slow_retries.stall_fail_after_s == 60 + 60 + 120 + 240 + 300 + 300  # the stall, then each back-off


def test_a_run_that_wakes_after_its_job_was_ended_keeps_no_more_batches(imports: ImportEnv, tmp_path: Path) -> None:
    """The sweep ends a stalled job while the worker holding it is stuck; when that worker wakes up, its next batch is
    refused and rolled back, so the job keeps exactly what it had when it was ended (and a "Try again" is not raced
    by the old run)."""
    from core import job_lifecycle
    from jobs.runner import run_job, upload_batches

    sid, _ = imports.supplier()
    job_id = imports.file_job(sid, couples_csv(tmp_path / "woken.csv", 8_000, prefix="woken"))

    def batches(job: Any, *_: Any) -> Any:
        for n, batch in enumerate(upload_batches(imports.pool, job)):
            if n == 2:  # the sweep, while this run was "stuck" between batches
                with imports.scoped(sid) as conn:
                    assert job_lifecycle.mark_dead(conn, job_id, "Ended while stuck.")
            yield batch

    assert run_job(imports.pool, sid, job_id, batches) is None
    ended = imports.summary(sid, job_id)
    assert (ended.status, ended.message) == ("failed", "Ended while stuck.")
    assert ended.processed <= 4_000
    assert ended.processed == ended.created == len(imports.clients(sid))
