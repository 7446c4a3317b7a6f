"""Integrations: the CRMs and files a supplier brings clients in from."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get
from litestar.di import Provide

from webapp.auth import provide_supplier_id, require_supplier
from webapp.db.pool import tenant
from webapp.queries import integrations as q
from webapp.rendering import page
from webapp.state import resources


@get(
    "/integrations",
    name="integrations",
    guards=[require_supplier],
    dependencies={"supplier_id": Provide(provide_supplier_id)},
)
async def list_integrations(request: Request[Any, Any, Any], supplier_id: int) -> Response[str]:
    async with tenant(resources(request).pool, supplier_id) as conn:
        items = await q.list_integrations(conn, supplier_id)
    return page(request, "integrations/list.html", integrations=items)
