"""Security headers and the refusal of control characters.

Litestar ships sessions, rate limits and compression but no security headers and no check for control characters,
so these small pieces are ours. (Request ids are set with the request metrics: ``webapp.observability``.)
"""

from __future__ import annotations

import re
from typing import Any

from litestar import Request
from litestar.enums import RequestEncodingType, ScopeType
from litestar.exceptions import ClientException
from litestar.middleware import ASGIMiddleware
from litestar.types import ASGIApp, BeforeMessageSendHookHandler, Message, Receive, Scope, Send

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; manifest-src 'self'; worker-src 'self'; "
    "frame-ancestors 'none'; form-action 'self'; base-uri 'self'; object-src 'none'"
)
SECURITY_HEADERS = {
    "content-security-policy": CONTENT_SECURITY_POLICY,
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "same-origin",
    "permissions-policy": "camera=(), microphone=(), geolocation=()",
    "cross-origin-opener-policy": "same-origin",
}


HSTS = "max-age=31536000; includeSubDomains"


def security_headers_hook(*, hsts: bool) -> BeforeMessageSendHookHandler:
    """Adds the headers to every response start, as an app-level ``before_send`` hook: it wraps the ASGI ``send``
    before routing, so 404, 405, 413 and other errors raised before or outside a route handler (where route
    middleware never runs), static files and the SSE streams all get them. HSTS only when cookies are Secure,
    i.e. when the site is served over HTTPS."""
    wanted = {**SECURITY_HEADERS, **({"strict-transport-security": HSTS} if hsts else {})}
    # As ASGI carries them: lower-case names, bytes. A route may set its own value (a page's own CSP), which is kept.
    raw = [(name.encode("latin-1"), value.encode("latin-1")) for name, value in wanted.items()]

    async def add_headers(message: Message, scope: Scope) -> None:
        if message["type"] == "http.response.start":
            headers = message.get("headers") or []
            present = {name.lower() for name, _ in headers}
            # One pass over the response's headers: Litestar's MutableScopeHeaders looked each name up anew (12% of
            # a cached page's CPU).
            message["headers"] = [*headers, *(pair for pair in raw if pair[0] not in present)]

    return add_headers


# C0 control characters other than tab, newline and carriage return (notes have line breaks). PostgreSQL refuses NUL
# in text outright (psycopg.DataError, a 500), and none of them belongs in anything a person types.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_RAW_CONTROL = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_ENCODED_CONTROL = re.compile(rb"%(?:[01][0-9A-Fa-f]|7[Ff])")  # %00-%1F (tab, newline, return are checked decoded)
_FORM_TYPES = frozenset({RequestEncodingType.URL_ENCODED, RequestEncodingType.MULTI_PART})
CONTROL_CHARACTERS_MESSAGE = "Something you sent has characters we can't accept (such as a NUL byte). Please retype it."


def may_hold_control_characters(query: bytes) -> bool:
    """A cheap look at a raw query string: False means no parameter can hold a control character."""
    return bool(_RAW_CONTROL.search(query) or _ENCODED_CONTROL.search(query))


class RefuseControlCharacters(ASGIMiddleware):
    """One place that answers 400 to a control character in the path, a query parameter or a form field (uploaded
    files are not looked at: a file's bytes are the import's business), before any handler or query sees it."""

    scopes = (ScopeType.HTTP,)

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        # The raw query is looked at first (a control character is in it as itself or %-encoded): the parsed
        # parameters, and a Request object, only for the few requests that may have one.
        if _CONTROL.search(scope["path"]) or (
            may_hold_control_characters(scope["query_string"]) and self._query_has_control(scope, receive)
        ):
            raise ClientException(CONTROL_CHARACTERS_MESSAGE)
        if scope.get("method", "GET") in ("GET", "HEAD"):
            await next_app(scope, receive, send)
            return
        request: Request[Any, Any, Any] = scope["litestar_app"].request_class(scope=scope, receive=receive)
        if request.content_type[0] in _FORM_TYPES:
            form = await request.form()  # parsed once: Litestar keeps it for the handler
            for key, value in form.multi_items():
                if _CONTROL.search(key) or (isinstance(value, str) and _CONTROL.search(value)):
                    raise ClientException(CONTROL_CHARACTERS_MESSAGE)
        await next_app(scope, receive, send)

    @staticmethod
    def _query_has_control(scope: Scope, receive: Receive) -> bool:
        request: Request[Any, Any, Any] = scope["litestar_app"].request_class(scope=scope, receive=receive)
        return any(_CONTROL.search(key) or _CONTROL.search(value) for key, value in request.query_params.multi_items())
