"""Tave / VSCO Workspace API v2 subset.

Shapes follow the Workspace OpenAPI description (api-evangelist/vsco): collections are
``{"type": "job-collection", "items": [...], "meta": {"currentPage", "totalPages", "totalItems",
"rows"}}``; ``pageSize`` must be 10..100 (else 400 validation-error); errors are
``{"type", "title", "detail", "status"}``; contacts live at ``/address-book`` (``/person`` is
served as an alias because our design notes call them Persons).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import msgspec
from litestar import Request, Response, Router, get
from litestar.params import FromPath

from jobs.sandbox.state import SandboxState
from jobs.sandbox.world import Kind, Order

_COLLECTION_TYPE = {
    "job": "job-collection",
    "person": "addressbook-collection",
    "jobcontact": "jobcontact-collection",
    "event": "event-collection",
}
_TYPE_PREFIX = {kind: b'{"type":"%s","items":[' % name.encode() for kind, name in _COLLECTION_TYPE.items()}
_SORTS: dict[str, Order] = {
    "id": "id_asc",
    "id asc": "id_asc",
    "id desc": "id_desc",
    "modified": "mod_asc",
    "modified asc": "mod_asc",
    "modified desc": "mod_desc",
}


# An answer as (status, JSON body): the same for the Litestar routes and the plain ASGI front (front.py).
Answer = tuple[int, bytes]


def _json(body: Any, status: int = 200) -> Response[bytes]:
    return _response((status, msgspec.json.encode(body)))


def _response(answer: Answer) -> Response[bytes]:
    return Response(answer[1], status_code=answer[0], media_type="application/json")


def _error(status: int, title: str, detail: Any, kind: str = "unknown") -> Answer:
    return status, msgspec.json.encode({"type": kind, "title": title, "detail": detail, "status": status})


def _validation(field: str, message: str) -> Answer:
    return _error(400, "Validation Error", {field: [message]}, "validation-error")


def _int_param(query: Mapping[str, str], name: str, default: int) -> int | None:
    raw = query.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        return None


def check_key(state: SandboxState, headers: Mapping[str, str]) -> Answer | None:
    """Headers by lower-case name."""
    key = headers.get("x-api-key")
    auth = headers.get("authorization", "")
    if key is None and auth.lower().startswith("bearer "):
        key = auth[7:]
    if key != state.config.api_key:
        return _error(401, "Unauthorized", "API key is missing or invalid.")
    return None


# Collection paths (under /v2) and the records they list.
LISTINGS: dict[str, Kind] = {
    "/job": "job",
    "/address-book": "person",
    "/person": "person",
    "/job-contact": "jobcontact",
    "/event": "event",
}


def build_tave_api(state: SandboxState) -> tuple[Router, Callable[[str, Mapping[str, str], Mapping[str, str]], Answer]]:
    """The Litestar router for single records, and the handler of the collections, which the plain ASGI
    front (front.py) serves."""
    world = state.world

    def listing(path: str, query: Mapping[str, str], headers: Mapping[str, str]) -> Answer:
        """``GET /v2/{path}``: one page of a collection (``path`` as in LISTINGS)."""
        kind = LISTINGS[path]
        denied = check_key(state, headers)
        if denied is not None:
            return denied
        page = _int_param(query, "page", 1)
        if page is None or page < 1:
            return _validation("page", "must be an integer of at least 1")
        page_size = _int_param(query, "pageSize", 100)
        if page_size is None or not 10 <= page_size <= 100:
            return _validation("pageSize", "must be an integer between 10 and 100")
        sort_by = query.get("sortBy", "id").strip().lower()
        direction = query.get("sortDirection")
        if direction and " " not in sort_by:
            # Accept the separate-parameter spelling too; the real API folds it into sortBy.
            sort_by = f"{sort_by} {direction.strip().lower()}"
        order = _SORTS.get(sort_by)
        if order is None:
            return _validation("sortBy", "the sandbox supports id and modified, asc or desc")

        faults = state.faults
        cfg = faults.config
        malformed = cfg.malformed_page == page and f"/v2{path}" == cfg.malformed_path
        filtered = _filtered(query, kind)
        missing_fields = malformed and cfg.malformed_kind == "missing_fields"
        if filtered is None and not missing_fields:
            encoded, total = world.page_bytes(kind, order, page, page_size)
        else:
            if filtered is None:
                items, total = world.page(kind, order, page, page_size)
            else:
                items, total = filtered
                items = items[(page - 1) * page_size : page * page_size]
            if missing_fields and items:
                items[len(items) // 2] = {
                    k: v for k, v in items[len(items) // 2].items() if k not in ("id", "modified", "jobId", "contactId")
                }
            encoded = [msgspec.json.encode(item) for item in items]
        meta = {"currentPage": page, "totalPages": -(-total // page_size), "totalItems": total, "rows": page_size}
        # The collection written around records already encoded: the same bytes as encoding the whole dict.
        body = b"".join((_TYPE_PREFIX[kind], b",".join(encoded), b'],"meta":', msgspec.json.encode(meta), b"}"))
        if kind == "job" and cfg.shift_insert_per_page and faults.inserted < cfg.shift_max_inserts:
            n = min(cfg.shift_insert_per_page, cfg.shift_max_inserts - faults.inserted)
            faults.inserted += n
            world.insert_head(n)
        if malformed and cfg.malformed_kind == "invalid_json":
            return 200, body[: len(body) // 2]
        return 200, body

    def _filtered(query: Mapping[str, str], kind: Kind) -> tuple[list[dict[str, Any]], int] | None:
        job_id = query.get("jobId")
        contact_id = query.get("contactId")
        if kind in ("jobcontact", "event") and job_id:
            found = world.locate(job_id, "job")
            if found is None:
                return [], 0
            slots = range(2) if kind == "jobcontact" else range(1)
            return [world.render(kind, found[0], s) for s in slots], len(slots)
        if kind == "jobcontact" and contact_id:
            person = world.locate(contact_id, "person")
            if person is None:
                return [], 0
            return [world.render("jobcontact", *person)], 1
        return None

    def single(request: Request[Any, Any, Any], kind: Kind, record_id: str) -> Response[bytes]:
        denied = check_key(state, request.headers)
        if denied is not None:
            return _response(denied)
        found = world.locate(record_id, kind)
        if found is None:
            return _response(_error(404, "Not Found", "The requested resource does not exist."))
        return _json(world.render(kind, *found))

    @get("/job/{record_id:str}", sync_to_thread=False)
    def get_job(request: Request[Any, Any, Any], record_id: FromPath[str]) -> Response[bytes]:
        return single(request, "job", record_id)

    @get(["/address-book/{record_id:str}", "/person/{record_id:str}"], sync_to_thread=False)
    def get_person(request: Request[Any, Any, Any], record_id: FromPath[str]) -> Response[bytes]:
        return single(request, "person", record_id)

    @get("/job-contact/{record_id:str}", sync_to_thread=False)
    def get_job_contact(request: Request[Any, Any, Any], record_id: FromPath[str]) -> Response[bytes]:
        return single(request, "jobcontact", record_id)

    @get("/event/{record_id:str}", sync_to_thread=False)
    def get_event(request: Request[Any, Any, Any], record_id: FromPath[str]) -> Response[bytes]:
        return single(request, "event", record_id)

    router = Router(
        path="/v2",
        route_handlers=[
            get_job,
            get_person,
            get_job_contact,
            get_event,
        ],
    )
    return router, listing
