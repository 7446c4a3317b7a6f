"""Who is signed in: the supplier id kept in the server-side session, checked by a guard."""

from __future__ import annotations

from typing import Any

from litestar import Request
from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException
from litestar.handlers.base import BaseRouteHandler

SESSION_KEY = "supplier_id"


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
    # A fresh session on sign-in, so a session id planted before login is worthless afterwards.
    request.clear_session()
    request.set_session({SESSION_KEY: supplier_id})


def sign_out(request: Request[Any, Any, Any]) -> None:
    request.clear_session()
