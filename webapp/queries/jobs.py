"""Sync jobs as the web pages read them."""

from __future__ import annotations

import datetime as dt
from typing import Any

import msgspec
import psycopg
from psycopg.rows import class_row

from core.job_lifecycle import ACTIVE, RETRYABLE
from core.settings import settings
from webapp.models import SyncJob
from webapp.queries.keyset import decode_cursor, encode_cursor

# A running job whose row has not moved for JOB_STALL_S (core.settings): marked on the jobs screen.
STALLED = "(status = 'running' AND updated_at < now() - make_interval(secs => %(stall_s)s))"
_COLUMNS = """
id, kind, source, status, total, processed, created_count, updated_count, unchanged_count,
failed_count, message, created_at, finished_at, options->>'filename' AS filename
"""
RECENT_JOBS = (
    "SELECT " + _COLUMNS + " FROM sync_jobs WHERE supplier_id = %(sid)s "
    "ORDER BY created_at DESC, id DESC LIMIT %(limit)s"
)


async def recent_jobs(conn: psycopg.AsyncConnection, supplier_id: int, limit: int = 5) -> list[SyncJob]:
    async with conn.cursor(row_factory=class_row(SyncJob)) as cur:
        await cur.execute(RECENT_JOBS, {"sid": supplier_id, "limit": limit})
        return await cur.fetchall()


class JobDetail(msgspec.Struct, frozen=True):
    id: int
    integration_id: int | None
    kind: str
    source: str
    status: str
    total: int | None
    processed: int
    created_count: int
    updated_count: int
    unchanged_count: int
    failed_count: int
    message: str | None
    options: dict[str, Any]
    cancel_requested: bool
    created_at: dt.datetime
    started_at: dt.datetime | None
    finished_at: dt.datetime | None
    undone_at: dt.datetime | None = None
    can_retry: bool = False  # "Try again" would send it again (core.job_lifecycle.RETRYABLE)
    stalled: bool = False  # running, and its row has not moved for JOB_STALL_S

    @property
    def filename(self) -> str | None:
        """A file import's file name, as its card and page name it (a CRM's jobs have none)."""
        name = self.options.get("filename")
        return str(name) if name else None


class JobError(msgspec.Struct, frozen=True):
    id: int
    line: int | None
    field: str | None
    reason: str
    raw: dict[str, str] | None
    severity: str  # "error": the row was not imported; "warning": it was, with this field left out or shortened


class JobDuplicate(msgspec.Struct, frozen=True):
    client_id: int
    client_name: str
    other_client_id: int
    other_name: str
    other_source: str
    reason: str


GET_JOB = f"""
SELECT id, integration_id, kind, source, status, total, processed, created_count, updated_count, unchanged_count,
       failed_count, message, options, cancel_requested, created_at, started_at, finished_at, undone_at,
       {RETRYABLE} AS can_retry, {STALLED} AS stalled
FROM sync_jobs WHERE id = %(id)s
"""
JOB_ERRORS = """
SELECT id, line, field, reason, raw, severity FROM sync_job_errors
WHERE supplier_id = %(sid)s AND job_id = %(job)s AND id > %(after)s ORDER BY id LIMIT %(limit)s
"""
# Rows to fix, by kind (the generated column of migration 0033): how many of each, and one page of each kind in
# one round trip, each page read along the (supplier, job, kind, id) index.
ROW_PROBLEM_COUNTS = """
SELECT kind, count(*) AS count FROM sync_job_errors
WHERE supplier_id = %(sid)s AND job_id = %(job)s GROUP BY kind
"""
ROW_PROBLEM_PAGES = """
SELECT k.kind, e.id, e.line, e.field, e.reason, e.raw, e.severity
FROM unnest(%(kinds)s::text[]) AS k (kind)
CROSS JOIN LATERAL (
    SELECT id, line, field, reason, raw, severity FROM sync_job_errors
    WHERE supplier_id = %(sid)s AND job_id = %(job)s AND kind = k.kind
      AND id > CASE WHEN k.kind = %(paged)s THEN %(after)s ELSE 0 END
    ORDER BY id LIMIT %(limit)s
) AS e
ORDER BY k.kind, e.id
"""
JOB_DUPLICATES = """
SELECT d.client_id, c.sort_name AS client_name, d.other_client_id, o.sort_name AS other_name,
       o.source AS other_source, d.reason
FROM sync_job_duplicates d
JOIN clients c ON c.id = d.client_id
JOIN clients o ON o.id = d.other_client_id
WHERE d.supplier_id = %(sid)s AND d.job_id = %(job)s AND c.deleted_at IS NULL AND o.deleted_at IS NULL
ORDER BY d.id LIMIT %(limit)s
"""


async def get_job(conn: psycopg.AsyncConnection, job_id: int) -> JobDetail | None:
    async with conn.cursor(row_factory=class_row(JobDetail)) as cur:
        await cur.execute(GET_JOB, {"id": job_id, "stall_s": settings().job_stall_s})
        return await cur.fetchone()


async def job_errors(
    conn: psycopg.AsyncConnection, supplier_id: int, job_id: int, *, after: int = 0, limit: int = 50
) -> list[JobError]:
    async with conn.cursor(row_factory=class_row(JobError)) as cur:
        await cur.execute(JOB_ERRORS, {"sid": supplier_id, "job": job_id, "after": after, "limit": limit})
        return await cur.fetchall()


class RowProblem(msgspec.Struct, frozen=True):
    kind: str  # ROW_PROBLEM_KINDS
    id: int
    line: int | None
    field: str | None
    reason: str
    raw: dict[str, str] | None
    severity: str


class RowProblemGroup(msgspec.Struct, frozen=True):
    """One kind of problem on a job's page: its count, one page of its rows, and where the pages go."""

    kind: str
    count: int
    label: str  # "12 phone numbers couldn't be read"
    hint: str
    rows: list[RowProblem]
    after: int  # the id this page starts after (0: the first page)
    next_after: int | None  # the last id shown, when there are more


# The kinds of migration 0033's generated column, in the order they are shown (what lost a client first), with
# what the photographer reads: one problem, several problems, and what to do about them.
ROW_PROBLEM_KINDS: dict[str, tuple[str, str, str]] = {
    "row": (
        "row couldn't be imported",
        "rows couldn't be imported",
        "They were not imported: fix them where they came from (your file or your CRM) and import again.",
    ),
    "phone": (
        "phone number couldn't be read",
        "phone numbers couldn't be read",
        "The couples were imported without them: add the right number on their page.",
    ),
    "email": (
        "email wasn't a valid address",
        "emails weren't valid addresses",
        "The couples were imported without them: add the right address on their page.",
    ),
    "date": (
        "date couldn't be read",
        "dates couldn't be read",
        "The couples were imported without them: add the date on their page.",
    ),
    "detail": (
        "detail was too long or unreadable",
        "details were too long or unreadable",
        "The couples were imported with these shortened or left out.",
    ),
}


async def row_problem_groups(
    conn: psycopg.AsyncConnection, supplier_id: int, job_id: int, *, page_size: int, paged: str = "", after: int = 0
) -> list[RowProblemGroup]:
    """Every kind of problem the job met, counted, each with its first page of rows (``paged`` from ``after``)."""
    cur = await conn.execute(ROW_PROBLEM_COUNTS, {"sid": supplier_id, "job": job_id})
    counts = {kind: count for kind, count in await cur.fetchall()}
    kinds = [k for k in ROW_PROBLEM_KINDS if counts.get(k)]
    if not kinds:
        return []
    async with conn.cursor(row_factory=class_row(RowProblem)) as rc:
        params = {"sid": supplier_id, "job": job_id, "kinds": kinds, "paged": paged, "after": after}
        await rc.execute(ROW_PROBLEM_PAGES, {**params, "limit": page_size + 1})
        rows = await rc.fetchall()
    groups = []
    for kind in kinds:
        one, many, hint = ROW_PROBLEM_KINDS[kind]
        page = [r for r in rows if r.kind == kind]
        more = len(page) > page_size
        page = page[:page_size]
        count = counts[kind]
        label = f"{count:,} {one if count == 1 else many}"
        start = after if kind == paged else 0
        groups.append(
            RowProblemGroup(kind, count, label, hint, page, start, page[-1].id if more else None),
        )
    return groups


async def job_duplicates(
    conn: psycopg.AsyncConnection, supplier_id: int, job_id: int, limit: int = 50
) -> list[JobDuplicate]:
    async with conn.cursor(row_factory=class_row(JobDuplicate)) as cur:
        await cur.execute(JOB_DUPLICATES, {"sid": supplier_id, "job": job_id, "limit": limit})
        return await cur.fetchall()


async def read_upload_head(conn: psycopg.AsyncConnection, job_id: int, max_chunks: int = 1) -> tuple[bytes, bool]:
    """The first chunk(s) of an upload, and whether there is more after them."""
    cur = await conn.execute(
        "SELECT seq, data FROM import_upload_chunks WHERE job_id = %s AND seq <= %s ORDER BY seq",
        [job_id, max_chunks],
    )
    rows = await cur.fetchall()
    head = b"".join(bytes(data) for seq, data in rows if seq < max_chunks)
    return head, any(seq >= max_chunks for seq, _ in rows)


# Running and queued first, then the most recent; filters are optional.
_LIST_JOBS = """
SELECT id, integration_id, kind, source, status, total, processed, created_count, updated_count, unchanged_count,
       failed_count, message, options, cancel_requested, created_at, started_at, finished_at,
       {stalled} AS stalled
FROM sync_jobs
WHERE supplier_id = %(sid)s AND status <> 'draft'
  AND (%(status)s::text IS NULL OR status = %(status)s)
  AND (%(source)s::text IS NULL OR source = %(source)s)
  {after}
ORDER BY (status IN ('running', 'queued')) DESC, created_at DESC, id DESC
LIMIT %(limit)s
"""
LIST_JOBS = _LIST_JOBS.format(after="", stalled=STALLED)
# Keyset: the row comparison follows the ORDER BY (all descending), so sync_jobs_list_idx serves both pages.
LIST_JOBS_AFTER = _LIST_JOBS.format(
    after="AND ((status IN ('running', 'queued')), created_at, id) < (%(active)s, %(at)s, %(id)s)", stalled=STALLED
)
JOB_EVENTS = """
SELECT at, status, processed, message FROM sync_job_events
WHERE supplier_id = %(sid)s AND job_id = %(job)s ORDER BY id DESC LIMIT %(limit)s
"""


class JobEvent(msgspec.Struct, frozen=True):
    at: dt.datetime
    status: str
    processed: int
    message: str


class JobCursor(msgspec.Struct, array_like=True, frozen=True):
    """Keyset position in the job list: the last card shown (running first, then newest)."""

    active: bool
    at: dt.datetime
    id: int

    def encode(self) -> str:
        return encode_cursor(self)

    @classmethod
    def decode(cls, token: str | None) -> JobCursor | None:
        return decode_cursor(token, cls)


class JobPage(msgspec.Struct, frozen=True):
    jobs: list[JobDetail]
    next_cursor: str | None


async def list_jobs(
    conn: psycopg.AsyncConnection,
    supplier_id: int,
    *,
    status: str | None,
    source: str | None,
    after: JobCursor | None = None,
    limit: int = 50,
) -> JobPage:
    params: dict[str, Any] = {
        "sid": supplier_id, "status": status, "source": source, "limit": limit + 1, "stall_s": settings().job_stall_s
    }  # fmt: skip
    if after is not None:
        params.update(active=after.active, at=after.at, id=after.id)
    async with conn.cursor(row_factory=class_row(JobDetail)) as cur:
        await cur.execute(LIST_JOBS if after is None else LIST_JOBS_AFTER, params)
        rows = await cur.fetchall()
    if len(rows) <= limit:
        return JobPage(rows, None)
    last = rows[limit - 1]
    return JobPage(rows[:limit], JobCursor(last.status in ACTIVE, last.created_at, last.id).encode())


async def job_events(conn: psycopg.AsyncConnection, supplier_id: int, job_id: int, limit: int = 100) -> list[JobEvent]:
    async with conn.cursor(row_factory=class_row(JobEvent)) as cur:
        await cur.execute(JOB_EVENTS, {"sid": supplier_id, "job": job_id, "limit": limit})
        return await cur.fetchall()
