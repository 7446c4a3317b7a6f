"""Import jobs: the list, a job's result (counts, errors, duplicates), cancel, and the errors CSV."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from typing import Annotated, Any
from urllib.parse import urlencode

import psycopg
from litestar import Controller, Request, Response, get, post
from litestar.exceptions import NotFoundException
from litestar.params import Parameter
from litestar.response import Stream

from core import job_lifecycle as lifecycle
from core import sources
from core.db.pool import tenant
from core.importing.records import FIELD_LABELS
from core.queue import send_job
from webapp.auth import require_supplier
from webapp.csv_export import BOM, csv_row
from webapp.dependencies import SIGNED_IN
from webapp.forms import read_form
from webapp.queries import conflicts as conflicts_q
from webapp.queries import jobs as q
from webapp.queries import undo as undo_q
from webapp.rendering import page
from webapp.routes.progress import progress_of
from webapp.state import Resources

FIX_PAGE = 10  # rows to fix shown per kind and page: more is a wall on a phone
SOURCES = sources.JOB_SOURCES


class JobController(Controller):
    path = "/jobs"
    guards = [require_supplier]
    dependencies = SIGNED_IN

    @get("/", name="job_list")
    async def list_jobs(
        self,
        request: Request[Any, Any, Any],
        conn: psycopg.AsyncConnection,
        supplier_id: int,
        wanted_state: Annotated[str | None, Parameter(query="state")] = None,
        source: str | None = None,
        after: str | None = None,
    ) -> Response[str]:
        status = wanted_state if wanted_state in lifecycle.JOB_STATES else None
        chosen_source = source if source in SOURCES else None
        cursor = q.JobCursor.decode(after)
        listed = await q.list_jobs(conn, supplier_id, status=status, source=chosen_source, after=cursor)
        filters = {k: v for k, v in (("state", status), ("source", chosen_source)) if v}
        return page(
            request,
            "jobs/list.html",
            jobs=listed.jobs,
            cards=[progress_of(j, supplier_id) for j in listed.jobs],
            states=lifecycle.JOB_STATES,
            sources=SOURCES,
            state=status,
            source=chosen_source,
            failed=sum(1 for j in listed.jobs if j.status == "failed"),
            older_url=f"/jobs/?{urlencode({**filters, 'after': listed.next_cursor})}" if listed.next_cursor else None,
            first_url=f"/jobs/?{urlencode(filters)}" if cursor is not None else None,
        )

    @post("/{job_id:int}/retry", name="job_retry")
    async def retry(self, res: Resources, supplier_id: int, job_id: int) -> Response[str]:
        return await self._requeue(res, supplier_id, job_id, f"/jobs/{job_id}")

    @post("/retry-failed", name="jobs_retry_failed")
    async def retry_failed(self, request: Request[Any, Any, Any], res: Resources, supplier_id: int) -> Response[str]:
        form = await read_form(request)
        if form.get("confirm") != "yes":
            return Response("", status_code=303, headers={"location": "/jobs/?state=failed"})
        return await self._requeue(res, supplier_id, None, "/jobs/")

    async def _requeue(self, res: Resources, supplier_id: int, job_id: int | None, location: str) -> Response[str]:
        # Its own transaction, not the request's: the workers are told only once the rows are committed.
        async with tenant(res.pool, supplier_id) as conn:
            if job_id is not None and await q.get_job(conn, job_id) is None:
                raise NotFoundException("We couldn't find that import.")
            requeued = await lifecycle.requeue_failed(conn, supplier_id, job_id)
        for queued_id, kind in requeued:
            send_job(kind, supplier_id, queued_id)
        return Response("", status_code=303, headers={"location": location})

    @get("/{job_id:int}", name="job_detail")
    async def show_job(
        self,
        request: Request[Any, Any, Any],
        conn: psycopg.AsyncConnection,
        supplier_id: int,
        job_id: int,
        fix: str = "",
        after: int = 0,
    ) -> Response[str]:
        job = await q.get_job(conn, job_id)
        if job is None or (job.status == "draft" and job.kind != "file_import"):
            raise NotFoundException("We couldn't find that import.")
        paged = fix if fix in q.ROW_PROBLEM_KINDS else ""
        groups = await q.row_problem_groups(
            conn, supplier_id, job_id, page_size=FIX_PAGE, paged=paged, after=after if paged else 0
        )
        duplicates = await q.job_duplicates(conn, supplier_id, job_id)
        conflicts = await conflicts_q.job_conflicts(conn, supplier_id, job_id)
        timeline = await q.job_events(conn, supplier_id, job_id)
        context: dict[str, Any] = {
            "p": progress_of(job, supplier_id),
            "timeline": timeline,
            "job": job, "fix_groups": groups, "fix_paged": paged, "duplicates": duplicates, "conflicts": conflicts,
            "field_labels": FIELD_LABELS, "can_undo": can_undo(job),
        }  # fmt: skip
        return page(request, "jobs/detail.html", **context)

    # Taking the file's value changes one client; keeping the app's changes nothing anyone has cached.
    @post("/{job_id:int}/conflicts/{conflict_id:int}", name="job_conflict_resolve")
    async def resolve_conflict(
        self, request: Request[Any, Any, Any], conn: psycopg.AsyncConnection, job_id: int, conflict_id: int
    ) -> Response[str]:
        form = await read_form(request)
        if await conflicts_q.resolve(conn, job_id, conflict_id, form.get("choice", "")) is None:
            raise NotFoundException("We couldn't find that change.")
        return Response("", status_code=303, headers={"location": f"/jobs/{job_id}#conflicts"})

    @get("/{job_id:int}/undo", name="job_undo_confirm")
    async def confirm_undo(
        self, request: Request[Any, Any, Any], conn: psycopg.AsyncConnection, supplier_id: int, job_id: int
    ) -> Response[str]:
        """What an undo would do, counted, before the photographer confirms it."""
        job = await _undoable(conn, job_id)
        plan = await undo_q.plan(conn, supplier_id, job_id)
        return page(request, "jobs/undo.html", job=job, plan=plan, kept=None, done=None)

    @post("/{job_id:int}/undo", name="job_undo")
    async def undo(
        self, request: Request[Any, Any, Any], conn: psycopg.AsyncConnection, supplier_id: int, job_id: int
    ) -> Response[str]:
        job = await _undoable(conn, job_id)
        if (await read_form(request)).get("confirm") != "yes":
            return Response("", status_code=303, headers={"location": f"/jobs/{job_id}/undo"})
        kept = await undo_q.kept_clients(conn, supplier_id, job_id)
        removed, restored = await undo_q.undo(conn, supplier_id, job_id)
        message = f"Undone: {_count(removed, 'client')} removed, {restored:,} put back as they were"
        message += f", {len(kept):,} changed since and kept." if kept else "."
        await lifecycle.mark_undone(conn, job_id, message)
        return page(request, "jobs/undo.html", job=job, plan=None, kept=kept, done=message)

    @post("/{job_id:int}/cancel", name="job_cancel")
    async def cancel(self, conn: psycopg.AsyncConnection, job_id: int) -> Response[str]:
        if await q.get_job(conn, job_id) is None:
            raise NotFoundException("We couldn't find that import.")
        await lifecycle.request_cancel(conn, job_id)
        return Response("", status_code=303, headers={"location": f"/jobs/{job_id}"})

    @get("/{job_id:int}/errors.csv", name="job_errors_csv")
    async def errors_csv(self, res: Resources, supplier_id: int, job_id: int) -> Stream:
        pool = res.pool
        async with tenant(pool, supplier_id) as conn:
            job = await q.get_job(conn, job_id)
            if job is None:
                raise NotFoundException("We couldn't find that import.")
            first = await q.job_errors(conn, supplier_id, job_id, limit=200)
        columns: list[str] = []
        for error in first:
            for key in error.raw or {}:
                if key not in columns:
                    columns.append(key)

        async def rows() -> AsyncIterator[list[object]]:
            batch, after = first, 0
            while batch:
                for e in batch:
                    raw = e.raw or {}
                    imported = "yes, without it" if e.severity == "warning" else "no"
                    yield [e.line, imported, e.reason, *(raw.get(c, "") for c in columns)]
                after = batch[-1].id
                async with tenant(pool, supplier_id) as conn:
                    batch = await q.job_errors(conn, supplier_id, job_id, after=after, limit=1000)

        async def body() -> AsyncIterator[str]:
            yield BOM + csv_row(["Row", "Imported", "Problem", *columns])
            async for row in rows():
                yield csv_row(row)

        filename = f"import-{job_id}-rows-to-fix.csv"
        return Stream(
            body(),
            media_type="text/csv; charset=utf-8",
            headers={"content-disposition": f'attachment; filename="{filename}"', "cache-control": "no-store"},
        )


UNDOABLE_KINDS = frozenset({"file_import", "full_import", "incremental_sync"})


async def _undoable(conn: psycopg.AsyncConnection, job_id: int) -> q.JobDetail:
    """A finished import of this studio, not undone yet, finished within the last UNDO_DAYS."""
    job = await q.get_job(conn, job_id)
    if job is None or job.kind not in UNDOABLE_KINDS:
        raise NotFoundException("We couldn't find that import.")
    if not lifecycle.is_terminal(job.status) or job.undone_at is not None or not can_undo(job):
        raise NotFoundException("This import can't be undone.")
    return job


def can_undo(job: q.JobDetail) -> bool:
    return (
        job.kind in UNDOABLE_KINDS
        and lifecycle.is_terminal(job.status)
        and job.undone_at is None
        and job.finished_at is not None
        and dt.datetime.now(dt.UTC) - job.finished_at < dt.timedelta(days=undo_q.UNDO_DAYS)
        and job.created_count + job.updated_count > 0
    )


def _count(n: int, noun: str) -> str:
    return f"{n:,} {noun}" + ("" if n == 1 else "s")
