"""Which job endings a studio's phones are told about, in which words, and queueing that notice (``jobs.notify``
sends it). Apart from the actor's module so the runner and the dead-job recorder can queue a notice without
importing the broker (which imports them)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import msgspec
import structlog

from core.job_lifecycle import TERMINAL, JobStatus
from core.push import Notice
from core.queue import send_job_notice
from core.sources import SOURCE_LABELS

log = structlog.get_logger("wedsync.push")


class EndedJob(msgspec.Struct, frozen=True):
    id: int
    kind: str
    source: str
    status: str
    message: str | None
    created_count: int
    updated_count: int
    unchanged_count: int
    failed_count: int
    finished_at: dt.datetime | None
    conflicts: int


# Every end but a stop: the photographer who stopped a job knows it ended (job states: core.job_lifecycle).
ANNOUNCED: frozenset[JobStatus] = TERMINAL - {"cancelled"}


def _plural(n: int, one: str, many: str) -> str:
    return f"{n:,} {one if n == 1 else many}"


def notice_for(job: EndedJob) -> Notice | None:
    """The words on the phone: plain, with the counts a photographer checks first. None for a job not worth a
    notice (still running, or stopped by the photographer)."""
    if job.status not in ANNOUNCED:
        return None
    what = "Sending to the CRM" if job.kind == "export_to_crm" else "Import"
    source = SOURCE_LABELS.get(job.source, job.source)
    url, tag = f"/jobs/{job.id}", f"job-{job.id}"
    if job.status == "failed":
        reason = job.message or "It stopped before the end."
        return Notice(f"{what} failed", f"{reason} ({source})", url, tag)
    counts = f"{job.created_count:,} new, {job.updated_count:,} updated"
    if job.unchanged_count and not job.created_count and not job.updated_count:
        counts += f", {job.unchanged_count:,} already up to date"
    if job.kind == "export_to_crm":
        counts = "Your new leads were sent"
    needs = []
    if job.failed_count:
        needs.append(_plural(job.failed_count, "row needs fixing", "rows need fixing"))
    if job.conflicts:
        needs.append(_plural(job.conflicts, "change to choose between", "changes to choose between"))
    if needs:
        return Notice(f"{what} finished — needs a look", f"{counts}; {', '.join(needs)} ({source}).", url, tag)
    return Notice(f"{what} finished", f"{counts} ({source}).", url, tag)


def announce_end(supplier_id: int, job_id: int, status: str | None, broker: Any = None) -> None:
    """Enqueue the job's notice if ``status`` (its committed end) is one to announce. Never raises: a notice that
    cannot be queued (Redis away) is lost, and the import's end stands."""
    if status not in ANNOUNCED:
        return
    try:
        send_job_notice(supplier_id, job_id, broker)
    except Exception:
        log.warning("could not queue the job's push notice", job_id=job_id, exc_info=True)
