"""The "More" tab on phones: everything the bottom tab bar has no room for, one tap away."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get

from webapp.auth import require_supplier
from webapp.rendering import page


@get("/more", name="more", guards=[require_supplier])
async def show_more(request: Request[Any, Any, Any]) -> Response[str]:
    # No query: the outbox's pending count lives on the phone, and outbox.js fills in [data-outbox-count].
    return page(request, "more.html")
