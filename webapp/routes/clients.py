"""Clients: list with keyset pages and search, detail, notes, status changes, new leads, edits and deletes."""

from __future__ import annotations

import secrets
from typing import Annotated, Any

import psycopg
from litestar import Controller, Request, Response, get, post
from litestar._asgi.utils import is_valid_host
from litestar._parsers import parse_cookie_string, parse_query_string
from litestar.enums import ScopeType
from litestar.exceptions import NotFoundException
from litestar.middleware.session.server_side import ServerSideSessionBackend
from litestar.params import Parameter
from litestar.response import Redirect
from litestar.types import ASGIApp, Receive, Scope, Send

import webapp.reads.clients as reads
from core.couple import BY_NAME, COUPLE_FIELDS, GROUP_LEGENDS
from core.importing.typed import as_typed, clean_typed
from core.metrics import LIST_FRONT
from webapp.auth import SESSION_COOKIE, SESSION_KEY, require_supplier
from webapp.cache import Generation, etag_matches
from webapp.cache.sessions import FallbackStore
from webapp.dependencies import SIGNED_IN
from webapp.forms import FormError, parse, read_form
from webapp.idempotency import run_idempotent
from webapp.leads import LeadError, clean_lead
from webapp.middleware import may_hold_control_characters
from webapp.models import CLIENT_STATUSES, Client
from webapp.observability import observe_requests
from webapp.queries import clients as q
from webapp.queries import notes as notes_q
from webapp.queries import suppliers as supplier_q
from webapp.rendering import Rendered, is_htmx, page, render_html, render_shared, rendered, rendered_response
from webapp.schemas.clients import ClientEditForm, LeadForm, NoteForm, StatusForm, edit_values
from webapp.state import Resources

UPCOMING_DAYS = 60
MAX_QUERY = 100


def new_idempotency_key() -> str:
    return secrets.token_urlsafe(18)


def _fragment_of(query: reads.ListQuery) -> str:
    # "Load more" and infinite scroll append rows; a new search replaces the whole list.
    return "clients/_rows.html" if query.after else "clients/_list.html"


def _revalidate(etag: str) -> dict[str, str]:
    # private: per signed-in supplier; no-cache: the browser keeps the copy but asks (If-None-Match) every time.
    return {"etag": etag, "cache-control": "private, no-cache", "vary": "HX-Request, Cookie"}


class ClientController(Controller):
    path = "/clients"
    guards = [require_supplier]
    dependencies = SIGNED_IN

    @get("/", name="client_list")
    async def list_clients(
        self,
        request: Request[Any, Any, Any],
        res: Resources,
        supplier_id: int,
        search: Annotated[str | None, Parameter(query="q", max_length=MAX_QUERY)] = None,
        upcoming: bool = False,
        cursor: str | None = None,
        deleted: int | None = None,
    ) -> Response[Any]:
        query = reads.ListQuery((search or "").strip(), upcoming, cursor or None)
        # Read by ``list_front`` when it looked for a kept fragment first: read once for the request either way.
        kept_gen = request.scope["state"].get(_GENERATION)
        gen = kept_gen if isinstance(kept_gen, Generation) else await reads.list_generation(res, supplier_id)
        if not is_htmx(request):
            rows = await reads.client_page(res, gen, query)
            return page(
                request,
                "clients/list.html",
                page=rows,
                query=query.text,
                upcoming=upcoming,
                deleted=deleted,
                restore_key=new_idempotency_key(),
            )
        fragment = _fragment_of(query)

        def render(rows: q.ClientPage) -> Rendered:
            return rendered(render_shared(request, fragment, page=rows, query=query.text, upcoming=upcoming))

        html = await reads.client_list_html(res, gen, query, fragment, render)
        etag = res.cache.etag(gen, html.digest, request.url.path, request.url.query, fragment)
        if etag and etag_matches(request.headers.get("if-none-match"), etag):
            return Response("", status_code=304, headers=_revalidate(etag))
        return rendered_response(request, html, _revalidate(etag) if etag else None)

    @get("/deleted", name="deleted_clients")
    async def list_deleted_clients(
        self, request: Request[Any, Any, Any], conn: psycopg.AsyncConnection, supplier_id: int
    ) -> Response[str]:
        """Clients deleted in the last 30 days, each with its Restore button."""
        rows = await q.deleted_clients(conn, supplier_id)
        keys = {row.id: new_idempotency_key() for row in rows}
        return page(request, "clients/deleted.html", rows=rows, keys=keys)

    @get("/new", name="lead_form")
    async def show_new_lead(self, request: Request[Any, Any, Any]) -> Response[str]:
        return page(request, "clients/new.html", form={}, error=None, idempotency_key=new_idempotency_key())

    @post("/", name="create_lead")
    async def create_lead(self, request: Request[Any, Any, Any], supplier_id: int) -> Response[str]:
        raw = await read_form(request)

        async def action(conn: psycopg.AsyncConnection) -> Response[str]:
            supplier = await supplier_q.get_supplier(conn, supplier_id)
            region = supplier.default_region if supplier else "GB"
            try:
                lead = clean_lead(parse(raw, LeadForm), region)
            except (FormError, LeadError) as exc:
                return page(
                    request,
                    "clients/new.html",
                    status_code=422,
                    form=raw,
                    error=str(exc),
                    idempotency_key=raw.get("idempotency_key") or new_idempotency_key(),
                )
            cur = await conn.execute(q.INSERT_MANUAL_CLIENT, lead)
            row = await cur.fetchone()
            assert row is not None
            return Response("", status_code=303, headers={"location": f"/clients/{row[0]}"})

        return await run_idempotent(request, supplier_id, raw, action)

    @get("/{client_id:int}", name="client_detail")
    async def show_client(
        self, request: Request[Any, Any, Any], res: Resources, supplier_id: int, client_id: int
    ) -> Response[str]:
        # No ETag here: the page carries fresh Idempotency-Keys for its forms, and a 304 would hand a phone the
        # key of a note it already sent (the next note would be "replayed" instead of saved).
        detail = await reads.client_detail(res, supplier_id, client_id)
        if detail is None:
            raise NotFoundException("We couldn't find that client.")
        return page(
            request,
            "clients/detail.html",
            client=detail.client,
            notes=detail.notes,
            notes_page=notes_q.NOTES_PAGE,
            statuses=CLIENT_STATUSES,
            note_key=new_idempotency_key(),
            status_key=new_idempotency_key(),
            delete_key=new_idempotency_key(),
            status_error=None,
            note_error=None,
        )

    @get("/{client_id:int}/notes/older", name="older_notes")
    async def show_older_notes(
        self,
        request: Request[Any, Any, Any],
        conn: psycopg.AsyncConnection,
        supplier_id: int,
        client_id: int,
        before: int,
    ) -> Response[str]:
        """The page of notes older than note ``before``: list items for htmx, a small page without it."""
        client = await q.get_client(conn, client_id)
        if client is None:
            raise NotFoundException("We couldn't find that client.")
        notes = await notes_q.list_notes(conn, supplier_id, client_id, before=before)
        context: dict[str, Any] = {"client_id": client_id, "notes": notes, "notes_page": notes_q.NOTES_PAGE}
        if is_htmx(request):
            return Response(render_html(request, "clients/_note_items.html", **context), media_type="text/html")
        return page(request, "clients/older_notes.html", client=client, **context)

    # A note shows only on its client's page: it bumps that client's cache generation, not the whole supplier's.
    @post("/{client_id:int}/notes", name="add_note", opt={"cache_scope": ("client",)})
    async def add_note(self, request: Request[Any, Any, Any], supplier_id: int, client_id: int) -> Response[str]:
        raw = await read_form(request)

        async def action(conn: psycopg.AsyncConnection) -> Response[str]:
            try:
                form = parse(raw, NoteForm)
            except FormError as exc:
                return await _notes_response(request, conn, supplier_id, client_id, error=exc.message, status=422)
            note = await notes_q.add_note(conn, client_id, form.body)
            if note is None:
                raise NotFoundException("We couldn't find that client.")
            return await _notes_response(request, conn, supplier_id, client_id, error=None, status=200)

        return await run_idempotent(request, supplier_id, raw, action)

    # A status shows on the client's page, on its row in the lists and in the dashboard counts, not on other
    # clients' pages; it is not part of what a list filters or sorts by, so no list gains, loses or moves a row.
    @post("/{client_id:int}/status", name="change_status", opt={"cache_scope": ("client", "row")})
    async def change_status(self, request: Request[Any, Any, Any], supplier_id: int, client_id: int) -> Response[str]:
        raw = await read_form(request)

        async def action(conn: psycopg.AsyncConnection) -> Response[str]:
            current = await q.get_client(conn, client_id)
            if current is None:
                raise NotFoundException("We couldn't find that client.")
            try:
                form = parse(raw, StatusForm)
            except FormError:
                return _status_response(request, current, "Choose one of the statuses.", 422)
            updated = await q.update_status(conn, client_id, status=form.status, version=form.version)
            if updated is None:
                message = (
                    f"This client was changed elsewhere in the meantime: the status is now "
                    f"“{current.status}”. Your change (“{form.status}”) was not saved."
                )
                return _status_response(request, current, message, 409)
            return _status_response(request, updated, None, 200)

        return await run_idempotent(request, supplier_id, raw, action)

    @get("/{client_id:int}/edit", name="edit_client_form")
    async def show_edit_client(
        self, request: Request[Any, Any, Any], conn: psycopg.AsyncConnection, client_id: int
    ) -> Response[str]:
        client = await q.get_client(conn, client_id)
        if client is None:
            raise NotFoundException("We couldn't find that client.")
        typed = {f.name: as_typed(getattr(client, f.name)) for f in COUPLE_FIELDS}
        return _edit_page(request, client, typed, {}, version=client.version, status=200)

    # An edit may change a name (list order) or a wedding date (upcoming weddings, counts): the whole studio's cache.
    @post("/{client_id:int}", name="edit_client")
    async def edit_client(self, request: Request[Any, Any, Any], supplier_id: int, client_id: int) -> Response[str]:
        raw = await read_form(request)
        typed = {f.name: raw.get(f.name, "").strip() for f in COUPLE_FIELDS}

        async def action(conn: psycopg.AsyncConnection) -> Response[str]:
            current = await q.get_client(conn, client_id)
            if current is None:
                raise NotFoundException("We couldn't find that client.")
            try:
                values, version = edit_values(parse(raw, ClientEditForm))
            except FormError as exc:
                field = BY_NAME.get(exc.field or "")
                if field is None:  # no version: not a form this app rendered
                    return _edit_page(request, current, typed, {"": _STALE_FORM}, version=current.version, status=422)
                message = (
                    "Choose one of the statuses."
                    if field.kind == "status"
                    else f"The {field.label} is too long (at most {field.form_max} characters)."
                )
                return _edit_page(request, current, typed, {field.name: message}, version=_int(raw), status=422)
            supplier = await supplier_q.get_supplier(conn, supplier_id)
            region = supplier.default_region if supplier else "GB"
            cleaned = clean_typed(values, region, external_id=current.external_id)
            if cleaned.errors:
                return _edit_page(request, current, typed, cleaned.errors, version=version, status=422)
            updated = await q.update_client(conn, client_id, cleaned.values, version=version)
            if updated is None:
                message = (
                    "This client was changed elsewhere in the meantime: your changes were not saved. "
                    "Both versions are below."
                )
                return _edit_page(
                    request, current, typed, {"": message}, version=current.version, status=409, conflict=current
                )
            # Always the redirect, htmx or not: the outbox sends a plain form's post (and every replay) with
            # HX-Request, so that an ended session is a 401 rather than the sign-in page, and the phone must land on
            # the client's page all the same.
            return Response("", status_code=303, headers={"location": f"/clients/{client_id}"})

        return await run_idempotent(request, supplier_id, raw, action)

    # Deleting changes every list and count: the whole studio's cache (the default).
    @post("/{client_id:int}/delete", name="delete_client")
    async def delete_client(self, request: Request[Any, Any, Any], supplier_id: int, client_id: int) -> Response[str]:
        raw = await read_form(request)

        async def action(conn: psycopg.AsyncConnection) -> Response[str]:
            if not await q.delete_client(conn, client_id):
                raise NotFoundException("We couldn't find that client.")
            return Response("", status_code=303, headers={"location": f"/clients/?deleted={client_id}"})

        return await run_idempotent(request, supplier_id, raw, action)

    @post("/{client_id:int}/restore", name="restore_client")
    async def restore_client(self, request: Request[Any, Any, Any], supplier_id: int, client_id: int) -> Response[str]:
        raw = await read_form(request)

        async def action(conn: psycopg.AsyncConnection) -> Response[str]:
            if not await q.restore_client(conn, client_id):
                raise NotFoundException("We couldn't find that client, or it was deleted more than 30 days ago.")
            return Response("", status_code=303, headers={"location": f"/clients/{client_id}"})

        return await run_idempotent(request, supplier_id, raw, action)

    @post("/{client_id:int}/notes/{note_id:int}/delete", name="delete_note", opt={"cache_scope": ("client",)})
    async def delete_note(
        self, request: Request[Any, Any, Any], supplier_id: int, client_id: int, note_id: int
    ) -> Response[str]:
        raw = await read_form(request)

        async def action(conn: psycopg.AsyncConnection) -> Response[str]:
            if not await notes_q.delete_note(conn, client_id, note_id):
                raise NotFoundException("We couldn't find that note.")
            return await _notes_response(request, conn, supplier_id, client_id, error=None, status=200)

        return await run_idempotent(request, supplier_id, raw, action)


async def _notes_response(
    request: Request[Any, Any, Any],
    conn: psycopg.AsyncConnection,
    supplier_id: int,
    client_id: int,
    *,
    error: str | None,
    status: int,
) -> Response[str]:
    if not is_htmx(request) and status == 200:
        return Response("", status_code=303, headers={"location": f"/clients/{client_id}"})
    notes = await notes_q.list_notes(conn, supplier_id, client_id)
    html = render_html(
        request,
        "clients/_notes.html",
        client_id=client_id,
        notes=notes,
        notes_page=notes_q.NOTES_PAGE,
        note_error=error,
        note_key=new_idempotency_key(),
    )
    return Response(html, status_code=status, media_type="text/html")


def _status_response(request: Request[Any, Any, Any], client: Client, error: str | None, status: int) -> Response[str]:
    if not is_htmx(request) and status == 200:
        return Response("", status_code=303, headers={"location": f"/clients/{client.id}"})
    html = render_html(
        request,
        "clients/_status.html",
        client=client,
        statuses=CLIENT_STATUSES,
        status_error=error,
        status_key=new_idempotency_key(),
    )
    return Response(html, status_code=status, media_type="text/html")


_STALE_FORM = "This form is out of date: open the client again and make your changes there."


def _int(raw: dict[str, str]) -> int:
    try:
        return int(raw.get("version", ""))
    except ValueError:
        return 0


def _edit_page(
    request: Request[Any, Any, Any],
    client: Client,
    typed: dict[str, str],
    errors: dict[str, str],
    *,
    version: int,
    status: int,
    conflict: Client | None = None,
) -> Response[str]:
    """The edit form: as stored, or as typed with the problems next to their fields (422), or, when the client
    changed since the form was opened (409), both versions, with the form on the current one so saving again keeps
    the photographer's."""
    differences = []
    if conflict is not None:
        for f in COUPLE_FIELDS:
            theirs = as_typed(getattr(conflict, f.name))
            if theirs != typed.get(f.name, ""):
                differences.append((f.heading, theirs, typed.get(f.name, "")))
    return page(
        request,
        "clients/edit.html",
        status_code=status,
        client=client,
        typed=typed,
        errors=errors,
        version=version,
        conflict=conflict,
        differences=differences,
        fields=COUPLE_FIELDS,
        legends=GROUP_LEGENDS,
        statuses=CLIENT_STATUSES,
        idempotency_key=new_idempotency_key(),
    )


__all__ = ["ClientController", "Redirect"]


# ---------------------------------------------------------------------------------------------------------------
# The kept list fragment, served in front of the route stack

_GENERATION = "wedsync.list_generation"  # scope state: the generation list_front read, for the handler to reuse
_LIST_PARAMS = frozenset({"q", "cursor", "upcoming"})
_LIST_HEADERS = frozenset({b"hx-request", b"hx-boosted", b"cookie", b"if-none-match", b"accept-encoding", b"host"})
_HTML = b"text/html; charset=utf-8"
_KEPT, _PASSED = LIST_FRONT.labels("kept"), LIST_FRONT.labels("passed")


def list_front(app: ASGIApp) -> ASGIApp:
    """``GET /clients/`` for htmx, answered from this process's kept rendering when it has one, before Litestar's route
    stack: a cached fragment then costs its lookup (the session's trusted copy, the generations this process has
    heard announced, a memory hit) rather than ten layers of middleware, dependency injection and a Response. It
    answers exactly what ``ClientController.list_clients`` would (same bytes, ETag, 304, headers; security headers
    come from the app's ``before_send`` hook, the request id and metrics from ``observe_requests``), and only when
    nothing else could apply: a signed-in session this process trusts and renewed moments ago (so the full path
    would write no session), the list's own query parameters and nothing else, no control characters, a kept
    rendering for the current generation. Anything else (a miss, a degraded cache, an unusual request) goes on to
    ``app``, which reuses the generation read here."""

    async def front(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == ScopeType.HTTP and scope["method"] == "GET" and scope["path"] == "/clients/":
            try:
                answer = await _kept_answer(scope)
            except Exception:  # whatever it is, the full path meets it too and answers it the app's way
                answer = None
            if answer is not None:
                _KEPT.inc()
                scope["path_template"] = "/clients"
                await observe_requests(answer, scope["app"].state["latency"])(scope, receive, send)
                return
            _PASSED.inc()
        await app(scope, receive, send)

    return front


async def _kept_answer(scope: Scope) -> ASGIApp | None:
    seen: dict[bytes, str] = {}
    for name, value in scope["headers"]:
        if name in _LIST_HEADERS:
            if name in seen:
                return None  # a header sent twice: left to the full path's reading of it
            seen[name] = value.decode("latin-1")
    if seen.get(b"hx-request") != "true" or seen.get(b"hx-boosted") == "true" or b"cookie" not in seen:
        return None
    if b"host" in seen and not is_valid_host(seen[b"host"].encode("latin-1")):
        return None  # the router's 400
    raw_query = scope["query_string"]
    if may_hold_control_characters(raw_query):  # the full path answers 400 if one is really there
        return None
    params = parse_query_string(raw_query)
    found = dict(params)
    if len(found) != len(params) or not found.keys() <= _LIST_PARAMS:
        return None
    text, upcoming = found.get("q") or "", found.get("upcoming")
    if len(text) > MAX_QUERY or upcoming not in (None, "true"):
        return None
    store = scope["app"].stores.get("sessions")
    session_id = parse_cookie_string(seen[b"cookie"]).get(SESSION_COOKIE)
    data = store.trusted(session_id) if session_id and isinstance(store, FallbackStore) else None
    if data is None:
        return None
    supplier_id = ServerSideSessionBackend.deserialize_data(data).get(SESSION_KEY)
    res = scope["app"].state.get("resources")
    if not isinstance(supplier_id, int) or isinstance(supplier_id, bool) or not isinstance(res, Resources):
        return None
    query = reads.ListQuery(text.strip(), upcoming == "true", found.get("cursor") or None)
    gen = scope["state"][_GENERATION] = await reads.list_generation(res, supplier_id)
    fragment = _fragment_of(query)
    html = await reads.kept_list_html(res, gen, query, fragment)
    # As the handler sees the request: Litestar's router has normalised the path (no trailing slash).
    etag = res.cache.etag(gen, html.digest, "/clients", raw_query.decode(), fragment) if html else None
    if html is None or etag is None:
        return None
    if etag_matches(seen.get(b"if-none-match"), etag):
        return _answer(304, _revalidate(etag), None, b"")
    headers = {**_revalidate(etag), "vary": "HX-Request, Cookie, Accept-Encoding"}
    if html.gzipped and "gzip" in seen.get(b"accept-encoding", ""):
        return _answer(200, {**headers, "content-encoding": "gzip"}, _HTML, html.gzipped)
    return _answer(200, headers, _HTML, html.html)


def _answer(status: int, headers: dict[str, str], media_type: bytes | None, body: bytes) -> ASGIApp:
    raw = [(name.encode("latin-1"), value.encode("latin-1")) for name, value in headers.items()]
    if media_type is not None:
        raw.append((b"content-type", media_type))
    if status != 304:
        raw.append((b"content-length", str(len(body)).encode()))

    async def send_it(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": status, "headers": raw})
        await send({"type": "http.response.body", "body": body, "more_body": False})

    return send_it
