"""The outbox screen: what this phone saved while offline and has not sent yet.

The list itself lives in the phone (IndexedDB) and is rendered by the service worker (``sw/outbox.js`` answers
``GET /outbox/list``), so it works with no signal. The server only serves the page around it, open to anyone
(an expired session must still be able to see what is waiting), and an empty list for browsers without a
service worker, which can't have saved anything.
"""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get

from webapp.rendering import page


@get("/outbox", name="outbox")
async def show_outbox(request: Request[Any, Any, Any]) -> Response[str]:
    return page(request, "outbox/page.html")


@get("/outbox/list", name="outbox_list")
async def show_outbox_list(request: Request[Any, Any, Any]) -> Response[str]:
    return page(request, "outbox/_empty.html")
