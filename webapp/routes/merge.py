"""Merge two clients: pick the other client, compare the two side by side choosing a value per differing field, merge.

``/clients/{id}/merge/{other}`` keeps client ``id`` (the survivor) and merges ``other`` into it; the page links to
the swapped address to keep the other one instead.
"""

from __future__ import annotations

from typing import Annotated, Any

import psycopg
from litestar import Controller, Request, Response, get, post
from litestar.exceptions import NotFoundException
from litestar.params import Parameter

from core.couple import COUPLE_FIELDS, CoupleField
from webapp.auth import require_supplier
from webapp.dependencies import SIGNED_IN
from webapp.forms import FormError, parse, read_form
from webapp.idempotency import run_idempotent
from webapp.models import Client
from webapp.queries import clients as clients_q
from webapp.queries import merge as q
from webapp.rendering import page
from webapp.routes.clients import new_idempotency_key
from webapp.schemas.merge import MergeForm, choices

_NOT_FOUND = "We couldn't find that client."
_CHANGED = (
    "One of these clients was changed elsewhere in the meantime: nothing was merged. "
    "Here they are as they are now; choose again."
)


class MergeController(Controller):
    path = "/clients/{client_id:int}/merge"
    guards = [require_supplier]
    dependencies = SIGNED_IN

    @get("/", name="merge_pick")
    async def pick_other(
        self,
        request: Request[Any, Any, Any],
        conn: psycopg.AsyncConnection,
        supplier_id: int,
        client_id: int,
        search: Annotated[str | None, Parameter(query="q", max_length=100)] = None,
    ) -> Response[str]:
        """The clients this one may be merged with: the possible duplicates imports reported, or a search."""
        client = await clients_q.get_client(conn, client_id)
        if client is None:
            raise NotFoundException(_NOT_FOUND)
        text = (search or "").strip()
        found = await q.candidates(conn, supplier_id, client_id, text)
        return page(request, "clients/merge_pick.html", client=client, candidates=found, query=text)

    @get("/{other_id:int}", name="merge_form")
    async def show_merge(
        self, request: Request[Any, Any, Any], conn: psycopg.AsyncConnection, client_id: int, other_id: int
    ) -> Response[str]:
        keep, gone = await _pair(conn, client_id, other_id)
        return _merge_page(request, keep, gone, None, 200)

    # A merge removes a client from every list and changes another: the whole studio's cache (the default).
    @post("/{other_id:int}", name="merge_clients")
    async def merge_clients(
        self, request: Request[Any, Any, Any], supplier_id: int, client_id: int, other_id: int
    ) -> Response[str]:
        raw = await read_form(request)

        async def action(conn: psycopg.AsyncConnection) -> Response[str]:
            pair = await q.lock_pair(conn, supplier_id, client_id, other_id)
            if pair is None:
                raise NotFoundException(_NOT_FOUND)
            keep, gone = pair
            try:
                version, other_version, sides = choices(parse(raw, MergeForm))
            except FormError:
                message = "This form is out of date: open the merge again and choose there."
                return _merge_page(request, keep, gone, message, 422)
            if (version, other_version) != (keep.version, gone.version):
                return _merge_page(request, keep, gone, _CHANGED, 409)
            values: dict[str, Any] = {}
            pinned: list[str] = []
            for f in COUPLE_FIELDS:
                mine, theirs = getattr(keep, f.name), getattr(gone, f.name)
                values[f.name] = theirs if sides[f.name] == "other" else mine
                if mine != theirs:
                    pinned.append(f.name)
            for column in q.FILLED_COLUMNS:
                mine, theirs = getattr(keep, column), getattr(gone, column)
                values[column] = theirs if mine is None else mine
                if mine != theirs:
                    pinned.append(column)
            if not await q.merge(conn, supplier_id, keep, gone, values, pinned):
                return _merge_page(request, keep, gone, _CHANGED, 409)  # not reached: both rows are locked
            return Response("", status_code=303, headers={"location": f"/clients/{keep.id}"})

        return await run_idempotent(request, supplier_id, raw, action)


async def _pair(conn: psycopg.AsyncConnection, client_id: int, other_id: int) -> tuple[Client, Client]:
    if client_id == other_id:
        raise NotFoundException(_NOT_FOUND)
    keep = await clients_q.get_client(conn, client_id)
    gone = await clients_q.get_client(conn, other_id)
    if keep is None or gone is None:
        raise NotFoundException(_NOT_FOUND)
    return keep, gone


class _Row:
    """One field on the merge page: both values, and whether there is anything to choose."""

    def __init__(self, field: CoupleField, this: object, other: object) -> None:
        self.field, self.this, self.other = field, this, other
        self.differs = this != other


def _merge_page(
    request: Request[Any, Any, Any], keep: Client, gone: Client, error: str | None, status: int
) -> Response[str]:
    rows = [_Row(f, getattr(keep, f.name), getattr(gone, f.name)) for f in COUPLE_FIELDS]
    return page(
        request,
        "clients/merge.html",
        status_code=status,
        keep=keep,
        gone=gone,
        differing=[r for r in rows if r.differs],
        same=[r for r in rows if not r.differs],
        error=error,
        idempotency_key=new_idempotency_key(),
    )
