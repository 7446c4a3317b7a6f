"""A worker SIGKILLed mid-import, and a photographer cancelling mid-import.

The killed worker's message goes back to the queue once its heartbeat is older than
WORKER_HEARTBEAT_TIMEOUT_MS, within about that timeout; the next worker resumes after the last committed batch, and
the counts come out exact because each batch and its checkpoint commit together."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.job_lifecycle import REQUEST_CANCEL, REQUEUE_FAILED
from jobs.heartbeat import reclaim_interval_s
from tests.fixtures import Services, wait_for
from tests.test_import_support import ImportEnv, couples_csv, import_env_fixture

ROWS = 40_000  # twenty batches: long enough to be stopped in the middle


@pytest.fixture(scope="module")
def imports(tmp_path_factory: pytest.TempPathFactory, services: Services) -> Iterator[ImportEnv]:
    yield from import_env_fixture(tmp_path_factory, services)


@pytest.fixture(scope="module")
def big_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return couples_csv(tmp_path_factory.mktemp("big") / "big.csv", ROWS)


def _mid_job(imports: ImportEnv, sid: int, job_id: int) -> bool:
    s = imports.summary(sid, job_id)
    assert not s.finished, "the job finished before it could be interrupted"
    return s.status == "running" and s.processed >= 2_000


# Resuming after a kill: the dead worker's message goes back to the queue once its broker heartbeat is older than the
# timeout, within one reclaim interval (jobs.heartbeat.DeadWorkerReclaimer), and the next fetch takes it within
# Dramatiq's worker timeout (its cap on the wait between empty fetches, 1 s by default). A longer timeout than the
# module's 3 s here, so the second worker is up well before it runs out and the bound measures redelivery, not a
# worker's start-up; no maintenance on fetches, so the reclaimer alone hands the message back.
RESUME_TIMEOUT_MS = 10_000
FETCH_WAIT_S = 1.0
START_SLACK_S = 2.0  # the resumed job's first statements, and this test's polling


def test_killed_worker_job_resumes_from_its_checkpoint(imports: ImportEnv, big_file: Path) -> None:
    knobs = {"WORKER_HEARTBEAT_TIMEOUT_MS": str(RESUME_TIMEOUT_MS), "BROKER_MAINTENANCE_CHANCE": "0"}
    first = imports.start_worker(**knobs)
    sid, _ = imports.supplier()
    job_id = imports.file_job(sid, big_file)
    imports.send("file_import", sid, job_id)
    wait_for(lambda: _mid_job(imports, sid, job_id), 60, "the first batches to commit")
    first.kill()
    killed_at = time.monotonic()
    at_kill = imports.summary(sid, job_id)
    assert at_kill.status == "running"
    assert 0 < at_kill.processed < ROWS
    assert at_kill.processed % 2_000 == 0  # only whole batches were committed
    assert len(imports.clients(sid)) == at_kill.created == at_kill.processed

    imports.start_worker(**knobs)
    assert time.monotonic() - killed_at < RESUME_TIMEOUT_MS / 1000 - 1, "the second worker started too late to time"
    wait_for(lambda: imports.summary(sid, job_id).attempts == 2, 60, "the job to resume on the second worker")
    resumed_after = time.monotonic() - killed_at
    bound = RESUME_TIMEOUT_MS / 1000 + reclaim_interval_s(RESUME_TIMEOUT_MS) + FETCH_WAIT_S + START_SLACK_S
    # Not before the timeout (less the second the dead worker may have been silent before it died), and soon after.
    assert RESUME_TIMEOUT_MS / 1000 - FETCH_WAIT_S - 0.5 <= resumed_after <= bound, resumed_after
    summary = imports.wait_done(sid, job_id, timeout=90)
    assert summary.status == "succeeded", summary.message
    assert summary.attempts == 2
    assert (summary.processed, summary.created, summary.updated, summary.unchanged) == (ROWS, ROWS, 0, 0)
    assert imports.rows(sid, "SELECT count(*), count(DISTINCT external_id), max(version) FROM clients") == [
        (ROWS, ROWS, 1)
    ]
    assert imports.rows(sid, "SELECT checkpoint FROM sync_jobs WHERE id = %s", [job_id]) == [({"items": ROWS},)]


def test_cancel_mid_import_keeps_committed_rows(imports: ImportEnv, big_file: Path) -> None:
    if not any(w.process.poll() is None for w in imports.workers):
        imports.start_worker()
    sid, _ = imports.supplier()
    job_id = imports.file_job(sid, big_file)
    imports.send("file_import", sid, job_id)
    wait_for(lambda: _mid_job(imports, sid, job_id), 60, "the first batches to commit")
    with imports.scoped(sid) as conn:
        assert conn.execute(REQUEST_CANCEL, {"id": job_id}).fetchone() == ("running",)
    summary = imports.wait_done(sid, job_id)
    assert summary.status == "cancelled"
    assert summary.message == "Cancelled. Everything imported before that is kept."
    assert 0 < summary.processed < ROWS
    assert len(imports.clients(sid)) == summary.created == summary.processed
    # The upload is kept, so "Try again" resumes the stopped import from its checkpoint and finishes it exactly.
    assert imports.rows(sid, "SELECT count(*) > 0 FROM import_upload_chunks WHERE job_id = %s", [job_id]) == [(True,)]
    with imports.scoped(sid) as conn:
        assert conn.execute(REQUEUE_FAILED, {"sid": sid, "id": job_id}).fetchall() == [(job_id, "file_import")]
    done = imports.run(sid, job_id)
    assert (done.status, done.processed, done.created, done.updated) == ("succeeded", ROWS, ROWS, 0)
    assert imports.rows(sid, "SELECT count(*), count(DISTINCT external_id), max(version) FROM clients") == [
        (ROWS, ROWS, 1)
    ]
    assert imports.rows(sid, "SELECT count(*) FROM import_upload_chunks WHERE job_id = %s", [job_id]) == [(0,)]


def test_retry_all_failed_leaves_stopped_imports_alone(imports: ImportEnv, tmp_path: Path) -> None:
    """A stopped import is tried again only from its own page; "try all failed again" means the failed ones."""
    sid, _ = imports.supplier()
    job_id = imports.file_job(sid, couples_csv(tmp_path / "few.csv", 10))
    with imports.scoped(sid) as conn:
        assert conn.execute(REQUEST_CANCEL, {"id": job_id}).fetchone() == ("cancelled",)
        assert conn.execute(REQUEUE_FAILED, {"sid": sid, "id": None}).fetchall() == []
