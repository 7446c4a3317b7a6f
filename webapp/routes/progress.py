"""Job progress for phones: Server-Sent Events (per job and per supplier) and a conditional poll endpoint.

Both render ``jobs/_status.html``, the fragment the page itself includes, so a reload, a poll and a live
event always show the same thing. SSE event ids are Redis stream ids; a phone resumes after the last one it
saw, from the ``Last-Event-ID`` header (EventSource's own reconnect) or a ``last_event_id`` query parameter
(a fresh EventSource, which cannot set the header).

The streams are served by ``events_front``, a plain ASGI app in front of Litestar's per-route middleware: a
web process holds thousands of them, and every middleware layer costs memory per connection and a call per
event per phone. It does what that stack would for these two paths (session → supplier, tenant check, the
per-supplier cap, security headers, request id); a request it refuses goes on to Litestar, whose handlers
below answer with the app's usual redirect to sign in, 404 or 429 page.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import re
import secrets
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs

import msgspec
from litestar import Controller, Request, Response, get
from litestar._parsers import parse_cookie_string
from litestar.enums import ScopeType
from litestar.exceptions import HTTPException, NotFoundException
from litestar.middleware.session.server_side import ServerSideSessionBackend
from litestar.response import ServerSentEventMessage
from litestar.stores.base import Store
from litestar.template import TemplateEngineProtocol
from litestar.types import ASGIApp, HTTPResponseBodyEvent, Receive, Scope, Send

from core.db.pool import tenant
from core.metrics import SSE_CONNECTIONS
from core.progress import ProgressEvent
from webapp.auth import SESSION_COOKIE, SESSION_KEY, require_supplier
from webapp.dependencies import SIGNED_IN
from webapp.live import KEEP_ALIVE, START, ProgressHub, Subscriber, encode, format_id, parse_id, stream_of
from webapp.middleware import SECURITY_HEADERS
from webapp.queries import jobs as q
from webapp.rendering import KIND_LABELS, SOURCE_LABELS, render_html
from webapp.state import Resources, resources

RETRY_MS = 3_000
_STREAM_ID = re.compile(r"^\d{1,20}-\d{1,10}$")
_EVENTS_PATH = re.compile(r"^/jobs/(?:(\d{1,18})/)?events/?$")
_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")  # as webapp.middleware accepts
_REFUSAL = "wedsync.sse_refusal"  # scope key: why the front did not serve a stream
_STATUS = "jobs/_status.html"


def progress_of(job: q.JobDetail, supplier_id: int) -> ProgressEvent:
    return ProgressEvent(
        job_id=job.id, supplier_id=supplier_id, kind=job.kind, source=job.source, status=job.status,
        processed=job.processed, total=job.total, created=job.created_count, updated=job.updated_count,
        unchanged=job.unchanged_count, failed=job.failed_count, message=job.message, stalled=job.stalled,
    )  # fmt: skip


def status_renderer(engine: TemplateEngineProtocol[Any, Any] | None) -> Callable[[ProgressEvent], str]:
    """The status fragment for an event, without a request: the hub renders it once for every phone (the
    fragment uses no request or CSRF token, so one rendering is right for all of them)."""
    assert engine is not None
    template = engine.get_template(_STATUS)
    return lambda event: str(template.render(source_labels=SOURCE_LABELS, kind_labels=KIND_LABELS, p=event))


def _etag(event: ProgressEvent) -> str:
    fields = msgspec.structs.replace(event, rows_per_s=None, eta_s=None, at=0.0)
    return 'W/"' + hashlib.sha1(msgspec.json.encode(fields), usedforsecurity=False).hexdigest()[:20] + '"'


def _refusal(request: Request[Any, Any, Any]) -> HTTPException:
    refusal = request.scope.get(_REFUSAL)
    return refusal if isinstance(refusal, HTTPException) else NotFoundException("We couldn't find that import.")


class ProgressController(Controller):
    path = "/jobs"
    guards = [require_supplier]
    dependencies = SIGNED_IN

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
        return Response(render_html(request, _STATUS, p=event), media_type="text/html", headers=headers)

    # The streams themselves are served by ``events_front``; these handlers only answer what it refused (the
    # guard sends a signed-out phone to sign in), so the error pages are the app's own.
    @get("/{job_id:int}/events", name="job_events")
    async def job_events(self, request: Request[Any, Any, Any], job_id: int) -> Response[str]:
        raise _refusal(request)

    @get("/events", name="supplier_events")
    async def supplier_events(self, request: Request[Any, Any, Any]) -> Response[str]:
        raise _refusal(request)


def _resources(scope: Scope) -> Resources:
    value = scope["app"].state["resources"]
    assert isinstance(value, Resources)
    return value


def events_front(app: ASGIApp) -> ASGIApp:
    """Serve ``GET /jobs/events`` and ``GET /jobs/{id}/events`` directly; everything else goes to ``app``."""

    async def front(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == ScopeType.HTTP and scope["method"] == "GET" and (target := _events_target(scope["path"])):
            refusal = await _serve(scope, receive, send, target[0])
            if refusal is None:
                return
            if refusal is not _SIGNED_OUT:
                scope[_REFUSAL] = refusal  # type: ignore[literal-required]
        await app(scope, receive, send)

    return front


_SIGNED_OUT = HTTPException(status_code=401)  # marker: Litestar's guard answers (redirect to sign in)


def _events_target(path: str) -> tuple[int | None] | None:
    """``(job_id,)`` (None for the supplier's stream) when ``path`` is an SSE endpoint."""
    match = _EVENTS_PATH.match(path)
    if match is None:
        return None
    return (int(match.group(1)) if match.group(1) else None,)


class _Ask(msgspec.Struct):
    """What the stream needs from the request, read once (the scope's parsed headers are not kept alive)."""

    session_id: str = ""
    resume: str | None = None
    request_id: str = ""


def _ask(scope: Scope) -> _Ask:
    ask = _Ask()
    for name, value in scope["headers"]:
        if name == b"cookie":
            # Litestar's own parser, so this reads the same session the session middleware would.
            ask.session_id = parse_cookie_string(value.decode("latin-1")).get(SESSION_COOKIE, ask.session_id)
        elif name == b"last-event-id":
            ask.resume = value.decode("latin-1")
        elif name == b"x-request-id":
            ask.request_id = value.decode("latin-1")
    if not ask.resume:
        values = parse_qs(scope["query_string"].decode("latin-1")).get("last_event_id")
        ask.resume = values[0] if values else None
    if not (ask.resume and _STREAM_ID.match(ask.resume)):
        ask.resume = None
    if not _SAFE_REQUEST_ID.match(ask.request_id):
        ask.request_id = secrets.token_hex(8)
    return ask


async def _supplier_of(sessions: Store, session_id: str) -> int | None:
    data = await sessions.get(session_id) if session_id else None
    if data is None:
        return None
    try:
        value = ServerSideSessionBackend.deserialize_data(data).get(SESSION_KEY)
    except (msgspec.DecodeError, AttributeError):
        return None
    return value if isinstance(value, int) and not isinstance(value, bool) else None


async def _snapshot(res: Resources, supplier_id: int, job_id: int) -> ProgressEvent | None:
    async with tenant(res.pool, supplier_id) as conn:  # RLS: only this supplier's jobs are visible
        job = await q.get_job(conn, job_id)
    return progress_of(job, supplier_id) if job is not None else None


async def _serve(scope: Scope, receive: Receive, send: Send, job_id: int | None) -> HTTPException | None:
    """One phone's stream, from the first event to the close; or why it cannot have one."""
    res = _resources(scope)
    ask = _ask(scope)
    supplier_id = await _supplier_of(scope["app"].stores.get("sessions"), ask.session_id)
    if supplier_id is None:
        return _SIGNED_OUT
    hub = res.hub
    # Where the phone's stream starts, read *before* the job's row: an event published meanwhile comes after
    # it and is delivered (the reverse order could skip a final event committed just after the row was read).
    start = parse_id(ask.resume) if ask.resume else await hub.last_id(stream_of(job_id, supplier_id))
    snapshot = None
    if job_id is not None and (snapshot := await _snapshot(res, supplier_id, job_id)) is None:
        return NotFoundException("We couldn't find that import.")
    connection_id = secrets.token_hex(8)
    if not await hub.claim_slot(supplier_id, connection_id):
        return HTTPException(
            status_code=429, detail="Too many live screens are open for this account.", headers={"retry-after": "30"}
        )
    sub = hub.subscribe(supplier_id, job_id, ask.session_id, connection_id)
    sub.last, sub.behind = start, True  # the first thing it writes: whatever the stream has after ``start``
    SSE_CONNECTIONS.inc()
    watcher = asyncio.create_task(_watch_disconnect(receive, sub))
    try:
        await send({"type": "http.response.start", "status": 200, "headers": _headers(ask.request_id)})
        await _stream(hub, sub, send, ask.resume is None, snapshot)
        await send({"type": "http.response.body", "body": b"", "more_body": False})
    finally:
        watcher.cancel()
        hub.unsubscribe(sub)
        SSE_CONNECTIONS.dec()
        # Released even when this task is being cancelled (server shutdown), or the slot stays claimed until
        # its TTL and a phone that reconnects often locks its team out.
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.shield(hub.release_slot(supplier_id, connection_id))
    return None


def _body(data: bytes) -> HTTPResponseBodyEvent:
    return {"type": "http.response.body", "body": data, "more_body": True}


async def _stream(hub: ProgressHub, sub: Subscriber, send: Send, fresh: bool, snapshot: ProgressEvent | None) -> None:
    if fresh:
        # A first connection: the current state now, then everything after it.
        if snapshot is not None:
            entry_id = format_id(sub.last) if sub.last != START else "0"
            await send(_body(encode(entry_id, hub.html(snapshot), end=snapshot.finished, retry_ms=RETRY_MS)))
            if snapshot.finished:
                return
    else:
        if missed := await hub.catch_up(sub):  # what the phone missed while away
            await send(_body(missed))
        if snapshot is not None and snapshot.finished and not sub.ended:
            # It saw the final event already (or it left the capped stream): the job is over, say so.
            await send(_body(ServerSentEventMessage(data="finished", event="end", id=format_id(sub.last)).encode()))
            return
    while not sub.ended:
        if (waiter := sub.idle()) is not None:
            await waiter
        if sub.closing:
            return
        if sub.behind and (missed := await hub.catch_up(sub)):
            await send(_body(missed))
            if sub.ended:
                return
        if sub.pending and (data := sub.take()):
            await send(_body(data))
        if sub.beat_due:
            sub.beat_due = False
            await send(_body(KEEP_ALIVE))


async def _watch_disconnect(receive: Receive, sub: Subscriber) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass
    sub.closing = "gone"
    sub.wake()


def _headers(request_id: str) -> list[tuple[bytes, bytes]]:
    headers = {
        "content-type": "text/event-stream; charset=utf-8",
        "cache-control": "no-store",
        "x-accel-buffering": "no",  # proxies must pass each event on at once
        "x-request-id": request_id,
        **SECURITY_HEADERS,
    }
    return [(k.encode(), v.encode()) for k, v in headers.items()]
