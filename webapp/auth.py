"""Who is signed in, and the session and CSRF token that prove it.

The supplier id lives in a server-side session (Redis); a guard checks it. Two pieces of Litestar are extended
here because their defaults leave holes:

- **Session ids.** Litestar's ``ServerSideSessionBackend`` takes its id from the request's cookie, whatever it
  says, and keeps it for the life of the session: a cookie planted before sign-in (``ffff…``, or an id handed out
  by ``GET /login``) became the signed-in session (session fixation). ``IssuedSessionBackend`` uses a cookie's id
  only when the store holds a session under it (so it is one the server issued and has not ended), makes a new id
  otherwise, and ``renew_session_id`` (called at sign-in) moves the session to a fresh id and deletes the old entry.
- **CSRF.** Litestar's ``CSRFConfig`` is a double-submit cookie: any signed token with the same signed cookie passes,
  so a cookie planted from a sibling subdomain, or one taken from another session, forges requests.
  ``SessionCsrfMiddleware`` derives the token from the session id (an HMAC under the app's secret), so a token is
  good for exactly one session and a new one is issued with every new session id (sign-in). No cookie is needed.
  It reads the token where Litestar's did (``x-csrftoken`` header, else the ``_csrf_token`` form field) and puts the
  expected token where Litestar's templates look for it (``ScopeState.csrf_token``, ``csrf_token()``).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Any

from cachetools import TTLCache
from litestar import Request
from litestar.connection import ASGIConnection
from litestar.datastructures import Cookie, MutableScopeHeaders
from litestar.enums import RequestEncodingType, ScopeType
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler
from litestar.middleware import ASGIMiddleware
from litestar.middleware.session.server_side import ServerSideSessionBackend, ServerSideSessionConfig
from litestar.types import ASGIApp, Empty, Message, Receive, Scope, ScopeSession, Send
from litestar.utils.dataclass import extract_dataclass_items
from litestar.utils.scope.state import ScopeState

from webapp.cache.sessions import FallbackStore

SESSION_KEY = "supplier_id"
SESSION_COOKIE = "wedsync_session"
SESSION_ID_BYTES = 32
CSRF_HEADER = "x-csrftoken"
CSRF_FIELD = "_csrf_token"
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
_FORM_TYPES = frozenset({RequestEncodingType.URL_ENCODED, RequestEncodingType.MULTI_PART})
# Where this request's session ids are kept (the scope's state lives for one request).
_ISSUED = "wedsync.session_issued"  # the cookie's id, when the store holds a session under it
_CURRENT = "wedsync.session_id"  # the id the response will carry
_LOADED = "wedsync.session_loaded"  # the issued session's bytes as the store held them


class IssuedSessionBackend(ServerSideSessionBackend):
    async def load_from_connection(self, connection: ASGIConnection[Any, Any, Any, Any]) -> dict[str, Any]:
        if session_id := connection.cookies.get(self.config.key):
            data = await self.get(session_id, store=self.config.get_store_from_app(connection.scope["app"]))
            if data is not None:
                state = connection.scope["state"]
                state[_ISSUED], state[_LOADED] = session_id, data
                return self.deserialize_data(data)
        return {}

    def get_session_id(self, connection: ASGIConnection[Any, Any, Any, Any]) -> str:
        return current_session_id(connection.scope) or _choose_id(connection.scope)

    async def store_in_message(
        self, scope_session: ScopeSession, message: Message, connection: ASGIConnection[Any, Any, Any, Any]
    ) -> None:
        state = connection.scope["state"]
        issued, current = state.get(_ISSUED), self.get_session_id(connection)
        store = self.config.get_store_from_app(connection.scope["app"])
        if issued is not None and issued != current:
            # Renewed (sign-in): the old id must stop working, or whoever else holds it shares the new session.
            await self.delete(issued, store=store)
        if scope_session is Empty or issued != current or not isinstance(store, FallbackStore):
            await super().store_in_message(scope_session, message, connection)  # sign-out, sign-in, first visit
            return
        # The session this request read, written back: unchanged and renewed moments ago, nothing is sent (no Redis
        # round trip, no Set-Cookie); otherwise it is renewed only if it still exists, so a request in flight during
        # a sign-out cannot bring the session back.
        data = self.serialize_data(scope_session, connection.scope)
        if data == state.get(_LOADED) and store.renewed_recently(current):
            return
        await store.update(current, data, expires_in=self.config.max_age)
        headers = MutableScopeHeaders.from_message(message)
        headers.add("Set-Cookie", self._cookie_header(current))

    def _cookie_header(self, session_id: str) -> str:
        """The session cookie as Litestar sets it; its attributes are worked out once per app, not per response."""
        params = self.__dict__.get("_cookie_params")
        if params is None:
            include = Cookie.__dict__.keys()
            params = self.__dict__["_cookie_params"] = dict(
                extract_dataclass_items(self.config, exclude_none=True, include=include)
            )
        return Cookie(value=session_id, key=self.config.key, **params).to_header(header="")


@dataclass
class IssuedSessionConfig(ServerSideSessionConfig):
    _backend_class = IssuedSessionBackend
    session_id_bytes: int = SESSION_ID_BYTES


def _choose_id(scope: Scope) -> str:
    state = scope["state"]
    chosen: str = state.get(_ISSUED) or secrets.token_hex(SESSION_ID_BYTES)
    state[_CURRENT] = chosen
    return chosen


def current_session_id(scope: Scope) -> str | None:
    """The id this request's session has (or will have once the response is sent); None before the session
    middleware has run or where it is skipped."""
    value = scope.get("state", {}).get(_CURRENT)
    return value if isinstance(value, str) else None


def renew_session_id(connection: ASGIConnection[Any, Any, Any, Any]) -> None:
    connection.scope["state"][_CURRENT] = secrets.token_hex(SESSION_ID_BYTES)


def csrf_token_for(secret: str, session_id: str) -> str:
    return hmac.new(secret.encode(), b"csrf:" + session_id.encode(), hashlib.sha256).hexdigest()


class SessionCsrfMiddleware(ASGIMiddleware):
    """CSRF for every unsafe request, with the token bound to the session (see the module docstring)."""

    scopes = (ScopeType.HTTP,)
    exclude_opt_key = "exclude_from_csrf"  # the route option Litestar's CSRF middleware honours too

    def __init__(self, secret: str) -> None:
        self.secret = secret
        # A phone's token is the same on every request of its session: worked out once per session and process.
        self._tokens: TTLCache[str, str] = TTLCache(20_000, 3600)

    def _token(self, session_id: str) -> str:
        token = self._tokens.get(session_id)
        if token is None:
            token = self._tokens[session_id] = csrf_token_for(self.secret, session_id)
        return token

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        session_id = current_session_id(scope)
        expected = self._token(session_id) if session_id else None
        if scope.get("method", "GET") not in _SAFE_METHODS:
            request: Request[Any, Any, Any] = scope["litestar_app"].request_class(scope=scope, receive=receive)
            sent = request.headers.get(CSRF_HEADER)
            if not sent and request.content_type[0] in _FORM_TYPES:
                value = (await request.form()).get(CSRF_FIELD)
                sent = value if isinstance(value, str) else None
            if expected is None or not sent or not hmac.compare_digest(sent.encode(), expected.encode()):
                raise PermissionDeniedException("CSRF token verification failed")
        ScopeState.from_scope(scope).csrf_token = expected or ""
        await next_app(scope, receive, send)


def signed_in_supplier_id(connection: ASGIConnection[Any, Any, Any, Any]) -> int | None:
    value = connection.session.get(SESSION_KEY) if "session" in connection.scope else None
    return value if isinstance(value, int) else None


async def require_supplier(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    # async: Litestar runs a sync guard in a worker thread, a thread hop on every signed-in request
    if signed_in_supplier_id(connection) is None:
        raise NotAuthorizedException("Please sign in.")


async def provide_supplier_id(request: Request[Any, Any, Any]) -> int:
    supplier_id = signed_in_supplier_id(request)
    if supplier_id is None:  # the guard runs first; this keeps the type honest
        raise NotAuthorizedException("Please sign in.")
    return supplier_id


def sign_in(request: Request[Any, Any, Any], supplier_id: int) -> None:
    # Only the supplier id survives, under a new session id: the old id (planted, or issued to the signed-out page)
    # is deleted from the store as the response is sent, and its CSRF token goes with it.
    request.set_session({SESSION_KEY: supplier_id})
    renew_session_id(request)


def sign_out(request: Request[Any, Any, Any]) -> None:
    request.clear_session()
