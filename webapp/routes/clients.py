"""Clients: list with keyset pages and search, detail, notes, status changes, new leads."""

from __future__ import annotations

import datetime as dt
import secrets
from typing import Annotated, Any

import msgspec
import psycopg
from litestar import Controller, Request, Response, get, post
from litestar.di import Provide
from litestar.exceptions import NotFoundException
from litestar.params import Parameter
from litestar.response import Redirect

from core.db.pool import tenant
from webapp.auth import provide_supplier_id, require_supplier
from webapp.cache import LISTS, etag_matches
from webapp.forms import FormError, parse, read_form
from webapp.idempotency import run_idempotent
from webapp.leads import LeadError, clean_lead
from webapp.models import CLIENT_STATUSES, Client, Note
from webapp.queries import clients as q
from webapp.queries import notes as notes_q
from webapp.queries import suppliers as supplier_q
from webapp.rendering import Rendered, is_htmx, page, render_html, render_shared, rendered, rendered_response
from webapp.schemas.clients import LeadForm, NoteForm, StatusForm
from webapp.search import search_terms
from webapp.state import resources

UPCOMING_DAYS = 60
MAX_QUERY = 100


def new_idempotency_key() -> str:
    return secrets.token_urlsafe(18)


class ClientDetail(msgspec.Struct, frozen=True):
    client: Client
    notes: list[Note]


class ListFragment(msgspec.Struct, frozen=True):
    """A list fragment's rendering and the page of rows it shows, kept as msgpack (a few KB rather than fifty row
    objects per cached page): they are read only when one of them has changed (``HotCache.get_listing``)."""

    packed_rows: bytes
    html: Rendered


_PAGE = msgspec.msgpack.Decoder(q.ClientPage)


def _page_ids(page: q.ClientPage) -> list[int]:
    return [row.id for row in page.rows]


def _fragment_ids(fragment: ListFragment) -> list[int]:
    return _page_ids(_PAGE.decode(fragment.packed_rows))


def _revalidate(etag: str) -> dict[str, str]:
    # private: per signed-in supplier; no-cache: the browser keeps the copy but asks (If-None-Match) every time.
    return {"etag": etag, "cache-control": "private, no-cache", "vary": "HX-Request, Cookie"}


class ClientController(Controller):
    path = "/clients"
    guards = [require_supplier]
    dependencies = {"supplier_id": Provide(provide_supplier_id)}

    @get("/", name="client_list")
    async def list_clients(
        self,
        request: Request[Any, Any, Any],
        supplier_id: int,
        search: Annotated[str | None, Parameter(query="q", max_length=MAX_QUERY)] = None,
        upcoming: bool = False,
        cursor: str | None = None,
    ) -> Response[Any]:
        res = resources(request)
        text = (search or "").strip()
        after = q.Cursor.decode(cursor) if cursor else None
        # "Load more" and infinite scroll append rows; a new search replaces the whole list.
        fragment = ("clients/_rows.html" if after else "clients/_list.html") if is_htmx(request) else None
        gen = await res.cache.generation(supplier_id, LISTS)

        async def load() -> q.ClientPage:
            async with tenant(res.pool, supplier_id) as conn:
                supplier = await supplier_q.get_supplier(conn, supplier_id)
                region = supplier.default_region if supplier else res.settings.default_region
                return await q.list_clients(
                    conn,
                    supplier_id,
                    search=search_terms(text, region) if text else None,
                    upcoming_days=UPCOMING_DAYS if upcoming else None,
                    after=after,
                )

        async def reload_rows(cached: q.ClientPage, changed: frozenset[int]) -> q.ClientPage | None:
            """The page with its changed rows read again (a status: the same clients in the same order)."""
            async with tenant(res.pool, supplier_id) as conn:
                fresh = await q.rows_by_ids(conn, supplier_id, changed)
            if len(fresh) < len(changed):  # a row is gone: the page is read whole
                return None
            return q.ClientPage([fresh.get(row.id, row) for row in cached.rows], cached.next_cursor)

        today = dt.date.today().isoformat()  # the upcoming window moves at midnight
        if fragment:
            # The fragment's HTML is cached whole (same tiers, generations and single flight as the rows): a hit
            # skips PostgreSQL and Jinja. It holds no request data (render_shared); the query text is in it as
            # typed, so the key keeps its case; the templates' digest keeps a deploy from serving old markup.
            def render(rows: q.ClientPage) -> ListFragment:
                html = rendered(render_shared(request, fragment, page=rows, query=text, upcoming=upcoming))
                return ListFragment(msgspec.msgpack.encode(rows), html)

            async def load_fragment() -> ListFragment:
                return render(await load())

            async def refresh_fragment(cached: ListFragment, changed: frozenset[int]) -> ListFragment | None:
                rows = await reload_rows(_PAGE.decode(cached.packed_rows), changed)
                return render(rows) if rows is not None else None

            html_key = (text, upcoming, cursor or "", today, fragment, res.cache.build)
            got = await res.cache.get_listing(
                gen, "client_list_html", html_key, ListFragment, load_fragment, _fragment_ids, refresh_fragment
            )
            etag = res.cache.etag(gen, got.html.digest, request.url.path, request.url.query, fragment)
            if etag and etag_matches(request.headers.get("if-none-match"), etag):
                return Response("", status_code=304, headers=_revalidate(etag))
            return rendered_response(request, got.html, _revalidate(etag) if etag else None)
        # Search is case-insensitive (search_query lower-cases), so "Emma" and "emma" share one cached page.
        key = (text.lower(), upcoming, cursor or "", today)
        result = await res.cache.get_listing(gen, "client_list", key, q.ClientPage, load, _page_ids, reload_rows)
        return page(request, "clients/list.html", page=result, query=text, upcoming=upcoming)

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
    async def show_client(self, request: Request[Any, Any, Any], supplier_id: int, client_id: int) -> Response[str]:
        res = resources(request)

        async def load() -> ClientDetail | None:
            async with tenant(res.pool, supplier_id) as conn:
                client = await q.get_client(conn, client_id)
                if client is None:
                    return None
                return ClientDetail(client, await notes_q.list_notes(conn, supplier_id, client_id))

        # No ETag here: the page carries fresh Idempotency-Keys for its forms, and a 304 would hand a phone the
        # key of a note it already sent (the next note would be "replayed" instead of saved).
        gen = await res.cache.generation(supplier_id, f"c:{client_id}")
        detail = await res.cache.get(gen, "client_detail", (client_id,), ClientDetail | None, load)
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
            status_error=None,
            note_error=None,
        )

    @get("/{client_id:int}/notes/older", name="older_notes")
    async def show_older_notes(
        self, request: Request[Any, Any, Any], supplier_id: int, client_id: int, before: int
    ) -> Response[str]:
        """The page of notes older than note ``before``: list items for htmx, a small page without it."""
        async with tenant(resources(request).pool, supplier_id) as conn:
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


__all__ = ["ClientController", "Redirect"]
