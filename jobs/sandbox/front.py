"""A plain ASGI front for the Tave collections, in front of the Litestar app.

An import reads thousands of collection pages (~6,000 for 100,000 clients). Through Litestar (routing,
request and response objects, its middleware stack) a page cost the sandbox about 0.2 ms of CPU, against
~0.12 ms for uvicorn alone, and the sandbox shares the machine with the importer it serves. So
``GET /v2/{collection}`` is answered here, with the same handler and behind the same fault middleware
(latency, 429, 5xx, timeouts, statistics) as every other API route; everything else goes to Litestar.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from urllib.parse import parse_qsl

from jobs.sandbox.faults import ASGIApp, Receive, Scope, Send, fault_middleware
from jobs.sandbox.state import SandboxState
from jobs.sandbox.tave_routes import LISTINGS, Answer

Listing = Callable[[str, Mapping[str, str], Mapping[str, str]], Answer]


def sandbox_front(app: ASGIApp, state: SandboxState, listing: Listing) -> ASGIApp:
    async def collections(scope: Scope, receive: Receive, send: Send) -> None:
        query = dict(parse_qsl(scope["query_string"].decode("latin-1"), keep_blank_values=True))
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        status, body = listing(scope["path"][3:], query, headers)
        await send({
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))],
        })  # fmt: skip
        await send({"type": "http.response.body", "body": body})

    served = fault_middleware(state.faults, state.stats)(collections)

    async def front(scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] == "http" and scope["method"] == "GET" and path.startswith("/v2/") and path[3:] in LISTINGS:
            await served(scope, receive, send)
        else:
            await app(scope, receive, send)

    return front
