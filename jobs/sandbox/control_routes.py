"""``/_sandbox/*``: test controls. Never subject to faults or auth."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Request, Response, Router, delete, get, post

from jobs.sandbox.config import FaultConfig
from jobs.sandbox.lightblue_routes import build_lightblue_inspect_handler
from jobs.sandbox.state import SandboxState


class TouchRequest(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    count: int = 1
    # Stamp the new edits with the newest existing timestamp: edits landing in the same second
    # as the last sync's cursor.
    reuse_latest_timestamp: bool = False


class InsertRequest(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    count: int = 1


def _bad(message: str) -> Response[bytes]:
    return Response(msgspec.json.encode({"error": message}), status_code=400, media_type="application/json")


def build_control_router(state: SandboxState) -> Router:
    world = state.world

    async def _decode(request: Request[Any, Any, Any], kind: type[Any]) -> Any:
        body = await request.body()
        return msgspec.json.decode(body or b"{}", type=kind)

    @post("/faults", status_code=200)
    async def set_faults(request: Request[Any, Any, Any]) -> Response[bytes]:
        try:
            config = await _decode(request, FaultConfig)
        except msgspec.ValidationError as exc:
            return _bad(str(exc))
        state.faults.replace(config)
        return Response(msgspec.json.encode(config), media_type="application/json")

    @get("/faults", sync_to_thread=False)
    def get_faults() -> Response[bytes]:
        return Response(msgspec.json.encode(state.faults.config), media_type="application/json")

    @post("/touch", status_code=200)
    async def touch_records(request: Request[Any, Any, Any]) -> Response[bytes]:
        try:
            body: TouchRequest = await _decode(request, TouchRequest)
        except msgspec.ValidationError as exc:
            return _bad(str(exc))
        chosen = world.touch(body.count, body.reuse_latest_timestamp)
        touched = [{"id": world.record_id("job", i), "modified": world.render("job", i)["modified"]} for i in chosen]
        return Response(msgspec.json.encode({"touched": touched}), media_type="application/json")

    @post("/insert", status_code=200)
    async def insert_records(request: Request[Any, Any, Any]) -> Response[bytes]:
        try:
            body: InsertRequest = await _decode(request, InsertRequest)
        except msgspec.ValidationError as exc:
            return _bad(str(exc))
        world.insert_head(body.count)
        return Response(msgspec.json.encode({"total": world.total_jobs}), media_type="application/json")

    @get("/stats", sync_to_thread=False)
    def get_stats() -> dict[str, Any]:
        return state.stats.snapshot()

    @delete("/stats", status_code=204, sync_to_thread=False)
    def reset_stats() -> None:
        state.stats.counts.clear()

    @get("/health", sync_to_thread=False)
    def health() -> dict[str, Any]:
        return {"ok": True, "size": world.size, "total_jobs": world.total_jobs}

    return Router(
        path="/_sandbox",
        route_handlers=[
            set_faults,
            get_faults,
            touch_records,
            insert_records,
            get_stats,
            reset_stats,
            health,
        ],
    )


def control_handlers(state: SandboxState) -> list[Any]:
    return [build_control_router(state), build_lightblue_inspect_handler(state)]
