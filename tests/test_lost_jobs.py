"""A job whose queue message was lost (Redis restarted without its append-only file, or the web process died
between committing the job and sending it) is sent again by the housekeeping sweep, once, and runs; a job whose
message is still in Redis is never sent twice."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import redis

from jobs.housekeeping import job_ids_in_queues, resend_lost_jobs
from tests.fixtures import Services
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
