"""Job progress for phones: Server-Sent Events (per job and per supplier) and a conditional poll endpoint.

Both render ``jobs/_status.html``, the fragment the page itself includes, so a reload, a poll and a live
event always show the same thing. SSE event ids are Redis stream ids; a phone resumes after the last one it
saw, from the ``Last-Event-ID`` header (EventSource's own reconnect) or a ``last_event_id`` query parameter
(a fresh EventSource, which cannot set the header).
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import AsyncIterator
from typing import Any

import anyio
import msgspec
from litestar import Controller, Request, Response, get
from litestar.di import Provide
from litestar.exceptions import HTTPException, NotFoundException
from litestar.response import ServerSentEvent, ServerSentEventMessage

from jobs.progress import ProgressEvent
from webapp.auth import provide_supplier_id, require_supplier
from webapp.db.pool import tenant
from webapp.live import follow, stream_for
from webapp.metrics import SSE_CONNECTIONS
from webapp.queries import jobs as q
from webapp.rendering import render_html
from webapp.state import resources

HEARTBEAT_S = 15.0
RETRY_MS = 3_000
_STREAM_ID = re.compile(r"^\d{1,20}-\d{1,10}$")


def progress_of(job: q.JobDetail, supplier_id: int) -> ProgressEvent:
    return ProgressEvent(
        job_id=job.id, supplier_id=supplier_id, kind=job.kind, source=job.source, status=job.status,
        processed=job.processed, total=job.total, created=job.created_count, updated=job.updated_count,
        unchanged=job.unchanged_count, failed=job.failed_count, message=job.message,
    )  # fmt: skip


def _etag(event: ProgressEvent) -> str:
    fields = msgspec.structs.replace(event, rows_per_s=None, eta_s=None, at=0.0)
    return 'W/"' + hashlib.sha1(msgspec.json.encode(fields), usedforsecurity=False).hexdigest()[:20] + '"'


def _resume_id(request: Request[Any, Any, Any]) -> str | None:
    value = request.headers.get("last-event-id") or request.query_params.get("last_event_id") or ""
    return value if _STREAM_ID.match(value) else None


class ProgressController(Controller):
    path = "/jobs"
    guards = [require_supplier]
    dependencies = {"supplier_id": Provide(provide_supplier_id)}

    @get("/{job_id:int}/progress", name="job_progress", cache=False)
    async def poll(self, request: Request[Any, Any, Any], supplier_id: int, job_id: int) -> Response[str]:
        """The fragment, or 304 with no body when the phone already has this state (If-None-Match)."""
        async with tenant(resources(request).pool, supplier_id) as conn:
            job = await q.get_job(conn, job_id)
        if job is None:
            raise NotFoundException("We couldn't find that import.")
        event = progress_of(job, supplier_id)
        etag = _etag(event)
        headers = {"etag": etag, "cache-control": "no-cache"}
        if etag in (request.headers.get("if-none-match") or ""):
            return Response("", status_code=304, headers=headers)
        return Response(render_html(request, "jobs/_status.html", p=event), media_type="text/html", headers=headers)

    @get("/{job_id:int}/events", name="job_events")
    async def job_events(self, request: Request[Any, Any, Any], supplier_id: int, job_id: int) -> ServerSentEvent:
        async with tenant(resources(request).pool, supplier_id) as conn:
            job = await q.get_job(conn, job_id)
        if job is None:
            raise NotFoundException("We couldn't find that import.")
        return await _stream(request, supplier_id, job_id, progress_of(job, supplier_id))

    @get("/events", name="supplier_events")
    async def supplier_events(self, request: Request[Any, Any, Any], supplier_id: int) -> ServerSentEvent:
        return await _stream(request, supplier_id, None, None)


async def _stream(
    request: Request[Any, Any, Any], supplier_id: int, job_id: int | None, snapshot: ProgressEvent | None
) -> ServerSentEvent:
    res = resources(request)
    hub = res.hub
    connection_id = secrets.token_hex(8)
    if not await hub.claim_slot(supplier_id, connection_id, ttl_s=HEARTBEAT_S * 4):
        raise HTTPException(
            status_code=429, detail="Too many live screens are open for this account.", headers={"retry-after": "30"}
        )
    resume = _resume_id(request)
    session_id = request.cookies.get("wedsync_session", "")
    sessions = request.app.stores.get("sessions")

    def fragment(entry_id: str, event: ProgressEvent) -> str:
        return hub.render_once(
            entry_id, "jobs/_status.html", lambda: render_html(request, "jobs/_status.html", p=event)
        )

    async def messages() -> AsyncIterator[ServerSentEventMessage]:
        SSE_CONNECTIONS.inc()
        try:
            start = resume
            if start is None:
                # A first connection: the current state now, then everything after it.
                start = await hub.last_id(stream_for(job_id, supplier_id))
                if snapshot is not None:
                    yield ServerSentEventMessage(
                        data=render_html(request, "jobs/_status.html", p=snapshot),
                        event="progress",
                        id=start,
                        retry=RETRY_MS,
                    )
                    if snapshot.finished:
                        yield ServerSentEventMessage(event="end", data="finished", id=start)
                        return
            async for item in follow(hub, supplier_id, job_id, start, heartbeat_s=HEARTBEAT_S):
                if item is None:
                    # Keep proxies and phones from dropping an idle connection; stop if the session ended.
                    if not session_id or not await sessions.exists(session_id):
                        return
                    await hub.claim_slot(supplier_id, connection_id, ttl_s=HEARTBEAT_S * 4)
                    yield ServerSentEventMessage(comment="keep-alive")
                    continue
                entry_id, event = item
                yield ServerSentEventMessage(data=fragment(entry_id, event), event="progress", id=entry_id)
                if job_id is not None and event.finished:
                    yield ServerSentEventMessage(event="end", data="finished", id=entry_id)
                    return
        finally:
            # A disconnect cancels this generator's anyio scope, which cancels any await here too: shielded,
            # or the slot stays claimed until its TTL and a phone that reconnects often locks its team out.
            SSE_CONNECTIONS.dec()
            with anyio.CancelScope(shield=True):
                await hub.release_slot(supplier_id, connection_id)

    return ServerSentEvent(messages(), headers={"cache-control": "no-store"})
